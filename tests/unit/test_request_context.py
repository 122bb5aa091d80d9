"""Request ids and metrics hold for the one error the app does not expect, too."""
import logging

from fastapi.testclient import TestClient

from killrvideo_reco.api.app import create_app
from killrvideo_reco.logs import RequestIdFilter
from killrvideo_reco.settings import Settings


class Capture(logging.Handler):
    """A handler set up like configure_logging's: the filter stamps the request id."""

    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(RequestIdFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_unexpected_error_is_a_problem_with_the_request_id():
    app = create_app(Settings(embedding_provider="hashing", dev_mode=True))

    async def boom():
        raise RuntimeError("bug")

    app.add_api_route("/boom", boom)
    client = TestClient(app, raise_server_exceptions=False)  # no lifespan: no database
    capture, logger = Capture(), logging.getLogger("killrvideo_reco.api.problems")
    logger.addHandler(capture)
    try:
        response = client.get("/boom", headers={"X-Request-ID": "oops-7"})
    finally:
        logger.removeHandler(capture)
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["x-request-id"] == "oops-7"
    assert response.json()["requestId"] == "oops-7" and "oops-7" in response.json()["detail"]
    assert [r.request_id for r in capture.records
            if r.getMessage().startswith("unexpected error")] == ["oops-7"]
    metrics = client.get("/metrics").text
    assert 'killrvideo_http_requests_total{method="GET",route="/boom",status="500"}' in metrics
