"""With the node stopped the service answers 503 quickly, and recovers without a restart."""
import time
import uuid

import pytest

from tests.conftest import _load_node_tool
from tests.integration.seeding import auth

pytestmark = [pytest.mark.integration, pytest.mark.outage]
FEED = "/api/v1/recommendations/foryou"


def test_503_while_cassandra_is_down_then_recovery(api, cassandra, cassandra_endpoint):
    settings, _ = cassandra
    node = _load_node_tool()
    if cassandra_endpoint != (node.HOST, node.NATIVE_PORT) or node.running_pid() is None:
        pytest.skip("only the local node managed by tools/cassandra/node.py can be stopped here")
    headers = auth(settings, uuid.uuid4())
    assert api.get(FEED, headers=headers).status_code == 200
    assert node.down() == 0
    try:
        started = time.monotonic()
        response = api.get(FEED, headers=headers)
        elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("application/problem+json")
        assert int(response.headers["retry-after"]) > 0
        assert elapsed <= settings.request_deadline_s + 1.0
        assert api.get("/readyz").status_code == 503
        assert api.get("/healthz").status_code == 200
    finally:
        assert node.up() == 0
    deadline = time.monotonic() + 90
    status = None
    while time.monotonic() < deadline:
        status = api.get(FEED, headers=headers).status_code
        if status == 200:
            break
        time.sleep(1)
    assert status == 200, "the same app recovers once Cassandra is back"
    assert api.get("/readyz").status_code == 200
