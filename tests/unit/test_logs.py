"""LOG_FORMAT=json writes one JSON object per line, with the request id."""
import json
import logging

from killrvideo_reco.logs import JsonFormatter, RequestIdFilter, request_id


def test_json_line_carries_the_request_id():
    record = logging.LogRecord("killrvideo_reco.x", logging.WARNING, __file__, 1,
                               "slow %s", ("feed",), None)
    token = request_id.set("abc-1")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "slow feed" and line["level"] == "WARNING"
    assert line["requestId"] == "abc-1" and line["time"].endswith("Z")


def test_no_request_id_outside_requests():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "job done", (), None)
    RequestIdFilter().filter(record)
    assert json.loads(JsonFormatter().format(record))["requestId"] is None
