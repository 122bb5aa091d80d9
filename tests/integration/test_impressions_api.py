"""Impressions and attribution end to end on a real Cassandra: every feed page and related
answer carries a recommendationId and positions, is recorded, and a view of a shown video
is attributed to it, with the id or without, once per event id."""
import time
import uuid
from collections import namedtuple
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from tests.integration.seeding import add_videos, auth, cluster_vectors, eventually, unit

pytestmark = pytest.mark.integration
FEED = "/api/v1/recommendations/foryou"


@pytest.fixture(scope="module")
def videos(cassandra):
    settings, session = cassandra
    rng = np.random.default_rng(22)
    return add_videos(settings, session, cluster_vectors(rng, unit(rng.normal(size=384)), 40),
                      [f"loop {i}" for i in range(40)])


Item = namedtuple("Item", "recommendation_id videoid position source variant")


def impression_rows(session, keyspace, user):
    """The viewer's impressions an item a row (they are stored a row a page)."""
    pages = session.execute(
        f"SELECT recommendation_id, videoids, first_position, source, variant "
        f"FROM {keyspace}.impression_pages WHERE userid = %s ALLOW FILTERING", (user,))
    return [Item(p.recommendation_id, uuid.UUID(bytes=p.videoids[n:n + 16]),
                 p.first_position + n // 16, p.source, p.variant)
            for p in pages for n in range(0, len(p.videoids or b""), 16)]


def daily(session, keyspace, metric, source):
    rows = session.execute(f"SELECT source, metric, value FROM {keyspace}.recommendation_daily")
    return sum(r.value for r in rows if r.metric == metric and r.source == source)


def view(api, settings, user, video, event, **extra):
    return api.post(f"/api/v1/videos/{video}/views", headers=auth(settings, user),
                    json={"eventId": event, "secondsWatched": 570.0, "durationS": 600.0,
                          **extra})


def test_pages_are_recorded_and_views_attributed_with_and_without_the_id(api, cassandra,
                                                                          videos):
    settings, session = cassandra
    keyspace, user = settings.cassandra_keyspace, uuid.uuid4()
    first = api.get(FEED, params={"pageSize": 5}, headers=auth(settings, user)).json()
    second = api.get(FEED, params={"pageSize": 5, "page": 2}, headers=auth(settings, user)).json()
    assert [i["position"] for i in first["items"]] == [1, 2, 3, 4, 5]
    assert [i["position"] for i in second["items"]] == [6, 7, 8, 9, 10]
    assert first["recommendationId"] != second["recommendationId"]
    rows = eventually(lambda: len(impression_rows(session, keyspace, user)) == 10
                      and impression_rows(session, keyspace, user))
    assert rows, "both pages recorded"
    assert {(str(r.recommendation_id), str(r.videoid), r.position) for r in rows} == {
        (page["recommendationId"], item["videoId"], item["position"])
        for page in (first, second) for item in page["items"]}
    assert {(r.source, r.variant) for r in rows} == {(first["source"], "default")}

    # Shown on page 1 and sent with its id: a click on page 1.
    named = view(api, settings, user, first["items"][2]["videoId"], "e1",
                 recommendationId=first["recommendationId"]).json()
    assert named["recommendationId"] == first["recommendationId"]
    # Shown on page 2, sent without an id: attributed all the same.
    unnamed = view(api, settings, user, second["items"][0]["videoId"], "e2").json()
    assert unnamed["recommendationId"] == second["recommendationId"]
    # A retry of the same event is not a second click.
    retried = view(api, settings, user, second["items"][0]["videoId"], "e2").json()
    assert retried["recorded"] is False and retried["recommendationId"] is None
    # A video never shown to this viewer is no click.
    shown = {i["videoId"] for page in (first, second) for i in page["items"]}
    never = next(str(v) for v in videos if str(v) not in shown)
    assert view(api, settings, user, never, "e3").json()["recommendationId"] is None
    source = first["source"]
    assert eventually(lambda: daily(session, keyspace, "clicks", source) == 2)
    assert daily(session, keyspace, "impressions", source) >= 10
    assert daily(session, keyspace, "completed", source) == 2
    assert daily(session, keyspace, "watch_seconds", source) == 2 * 570
    metrics = api.get("/metrics").text
    assert (f'killrvideo_reco_attributed_views_total{{position="3",source="{source}",'
            'variant="default"}') in metrics


def test_a_related_answer_is_an_impression_for_a_signed_in_viewer(api, cassandra, videos):
    settings, session = cassandra
    keyspace, user = settings.cassandra_keyspace, uuid.uuid4()
    answer = api.get(f"/api/v1/videos/{videos[0]}/related", params={"limit": 4},
                     headers=auth(settings, user)).json()
    assert [i["position"] for i in answer["items"]] == [1, 2, 3, 4]
    assert eventually(lambda: len(impression_rows(session, keyspace, user)) == 4)
    assert {r.source for r in impression_rows(session, keyspace, user)} == {"related"}
    clicked = view(api, settings, user, answer["items"][1]["videoId"], "r1").json()
    assert clicked["recommendationId"] == answer["recommendationId"]
    anonymous = api.get(f"/api/v1/videos/{videos[0]}/related").json()
    assert uuid.UUID(anonymous["recommendationId"]).version == 1


def test_daily_metrics_for_moderators_with_field_named_errors(api, cassandra, videos):
    settings, session = cassandra
    user = uuid.uuid4()
    page = api.get(FEED, params={"pageSize": 4}, headers=auth(settings, user)).json()
    today = datetime.now(timezone.utc).date()
    moderator = auth(settings, uuid.uuid4(), roles=("moderator",))
    url = "/api/v1/admin/metrics/recommendations"
    assert eventually(lambda: view(api, settings, user, page["items"][0]["videoId"],
                                   f"m{time.monotonic()}").json()["recommendationId"])

    def todays():
        body = api.get(url, params={"from": str(today)}, headers=moderator).json()
        return [d for d in body["days"] if d["source"] == page["source"]]
    found = eventually(lambda: (t := todays()) and t[0]["attributedViews"] >= 1 and t)
    assert found, "today's metrics show the click"
    entry = found[0]
    assert entry["impressions"] >= 4 and entry["variant"] == "default"
    assert 0 < entry["ctr"] <= 1 and entry["ctrAtPosition"][0] > 0
    assert entry["watchSecondsPerImpression"] > 0 and entry["completedShare"] > 0
    assert api.get(url, params={"from": str(today)},
                   headers=auth(settings, user)).status_code == 403
    for params, field in (({"from": "yesterday"}, "query.from"),
                          ({"from": str(today), "to": str(today - timedelta(days=1))},
                           "query.from"),
                          ({"from": "2026-01-01", "to": "2026-12-31"}, "query.to")):
        response = api.get(url, params=params, headers=moderator)
        assert response.status_code == 422, params
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in {e["field"] for e in response.json()["errors"]}
