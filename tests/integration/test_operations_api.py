"""Operators' view through the HTTP API on a real Cassandra: /metrics, request ids, and
the contract fixes found by fuzzing (Allow headers, 405s, RFC 3339 times)."""
import re
import uuid

import numpy as np
import pytest

from tests.integration.seeding import add_videos, auth, cluster_vectors, unit

pytestmark = pytest.mark.integration
FEED = "/api/v1/recommendations/foryou"


def sample(api, name: str, **labels) -> float:
    """The value of one series in a fresh scrape of /metrics (0 if absent)."""
    text = api.get("/metrics").text
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name + "{"):
            series, value = line.rsplit(" ", 1)
            found = ",".join(sorted(series[len(name) + 1:-1].split(",")))
            if found == wanted:
                return float(value)
    return 0.0


@pytest.fixture(scope="module")
def videos(cassandra):
    settings, session = cassandra
    rng = np.random.default_rng(7)
    return add_videos(settings, session, cluster_vectors(rng, unit(rng.normal(size=384)), 30))


def test_metrics_count_requests_feeds_and_views(api, cassandra, videos):
    settings, _ = cassandra
    viewer = uuid.uuid4()
    route = {"method": "GET", "route": FEED, "status": "200"}
    # No views yet in this keyspace: a new viewer's feed is the latest videos.
    before = (sample(api, "killrvideo_http_requests_total", **route),
              sample(api, "killrvideo_feed_responses_total", source="latest"),
              sample(api, "killrvideo_view_events_total", outcome="recorded"),
              sample(api, "killrvideo_view_events_total", outcome="duplicate"))
    assert api.get(FEED, headers=auth(settings, viewer)).json()["source"] == "latest"
    url = f"/api/v1/videos/{videos[0]}/views"
    for _ in range(2):  # the second is a retry of the same event
        assert api.post(url, json={"eventId": "m-1", "secondsWatched": 30},
                        headers=auth(settings, viewer)).status_code == 200
    after = (sample(api, "killrvideo_http_requests_total", **route),
             sample(api, "killrvideo_feed_responses_total", source="latest"),
             sample(api, "killrvideo_view_events_total", outcome="recorded"),
             sample(api, "killrvideo_view_events_total", outcome="duplicate"))
    assert [a - b for a, b in zip(after, before)] == [1, 1, 1, 1]
    scrape = api.get("/metrics")
    assert scrape.headers["content-type"].startswith("text/plain")
    assert re.search(r'killrvideo_http_request_duration_seconds_bucket\{[^}]*route="/api/v1/'
                     r'recommendations/foryou"', scrape.text)
    # Route templates, never raw paths: one series for every video id.
    assert f'route="/api/v1/videos/{videos[0]}/views"' not in scrape.text
    assert 'route="/api/v1/videos/{videoId}/views"' in scrape.text


def test_personalised_feed_counts_candidates(api, cassandra, videos):
    settings, session = cassandra
    viewer = uuid.uuid4()
    # Its likes form interests, whose neighbour lists bring the content candidates.
    fetched = sample(api, "killrvideo_feed_candidates_fetched_total", source="interest 0")
    kept = sample(api, "killrvideo_feed_candidates_kept_total", path="content_only")
    for i, video in enumerate(videos[:4]):
        assert api.post(f"/api/v1/videos/{video}/views", json={
            "eventId": f"c-{i}", "secondsWatched": 600, "durationS": 600},
            headers=auth(settings, viewer)).status_code == 200
    page = api.get(FEED, headers=auth(settings, viewer)).json()
    assert page["source"] == "personalized"
    assert sample(api, "killrvideo_feed_candidates_fetched_total", source="interest 0") > fetched
    assert sample(api, "killrvideo_feed_candidates_kept_total", path="content_only") > kept


def test_request_id_is_echoed_in_header_and_problem(api, cassandra):
    response = api.get(FEED, headers={"X-Request-ID": "trace-123"})
    assert response.status_code == 401
    assert response.headers["x-request-id"] == "trace-123"
    assert response.json()["requestId"] == "trace-123"
    generated = api.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    unsafe = api.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert unsafe.headers["x-request-id"] != "bad id\twith spaces"


def test_allow_lists_every_method_of_the_path(api, videos):
    response = api.request("OPTIONS", f"/api/v1/recommendations/hidden/{videos[0]}")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, POST"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "DELETE or POST" in response.json()["detail"]


def test_unsupported_method_on_job_start_is_405(api):
    for method in ("GET", "PUT", "DELETE"):
        response = api.request(method, "/api/v1/admin/jobs/profiles")
        assert response.status_code == 405, method
        assert response.headers["allow"] == "POST"


def test_times_are_rfc3339_utc(api, cassandra, videos):
    settings, _ = cassandra
    video = api.get(f"/api/v1/videos/{videos[0]}", headers=auth(settings, uuid.uuid4())).json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", video["addedDate"])


def test_openapi_documents_problems_and_vector_length(api, cassandra):
    settings, _ = cassandra
    document = api.get("/openapi.json").json()
    views = document["paths"]["/api/v1/videos/{videoId}/views"]["post"]["responses"]
    for status in ("401", "403", "404", "409", "422", "503"):
        assert "application/problem+json" in views[status]["content"], status
    features = document["components"]["schemas"]["NewVideoIn"]["properties"]["contentFeatures"]
    array = next(b for b in features["anyOf"] if b.get("type") == "array")
    assert array["minItems"] == array["maxItems"] == settings.vector_dimension


def test_body_contract_is_enforced(api, cassandra, videos):
    settings, _ = cassandra
    url, headers = f"/api/v1/videos/{videos[1]}/views", auth(cassandra[0], uuid.uuid4())
    for body in ({"eventId": "n-1", "secondsWatched": "30"},  # a string, not a number
                 {"eventId": "n-2", "secondsWatched": 30, "watchedAt": 0}):  # not RFC 3339
        assert api.post(url, json=body, headers=headers).status_code == 422, body
    undecodable = api.post(url, content=b"\xff", headers={**headers,
                                                          "Content-Type": "application/json"})
    assert undecodable.status_code == 400
    assert "UTF-8" in undecodable.json()["detail"]
