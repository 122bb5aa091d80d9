"""Reach end to end on a real Cassandra: catalogue coverage and new viewers' personalised
share in the daily metrics, and a video's impressions and viewers per day, equal to what
the feed pages actually showed (cql/0012, domain/reach.py)."""
import uuid
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from tests.integration.seeding import add_videos, auth, cluster_vectors, eventually, set_profile, unit

pytestmark = pytest.mark.integration
FEED = "/api/v1/recommendations/foryou"
CATALOGUE = 30


@pytest.fixture(scope="module")
def videos(cassandra):
    settings, session = cassandra
    rng = np.random.default_rng(23)
    return add_videos(settings, session, cluster_vectors(rng, unit(rng.normal(size=384)),
                                                         CATALOGUE),
                      [f"reach {i}" for i in range(CATALOGUE)])


def feed(api, settings, user, **params):
    return api.get(FEED, params={"pageSize": 4, **params}, headers=auth(settings, user)).json()


def test_coverage_and_new_viewers_share_equal_what_was_served(api, cassandra, videos):
    settings, session = cassandra
    keyspace = settings.cassandra_keyspace
    # Two new viewers without a profile (the cold-start feed), one with 5 positive videos
    # (new, personalised) and one with 50 (personalised, not new).
    newcomers = [uuid.uuid4(), uuid.uuid4()]
    learner, regular = uuid.uuid4(), uuid.uuid4()
    direction = unit(np.random.default_rng(1).normal(size=384))
    for user in (learner, regular):
        set_profile(settings, session, user, direction)
    session.execute(f"UPDATE {keyspace}.user_preferences SET item_count = 50 WHERE userid = %s",
                    (regular,))
    pages = [feed(api, settings, newcomers[0]), feed(api, settings, newcomers[0], page=2),
             feed(api, settings, newcomers[1]), feed(api, settings, learner),
             feed(api, settings, regular)]
    assert [p["source"] for p in pages[3:]] == ["personalized", "personalized"]
    assert {p["source"] for p in pages[:3]} <= {"trending", "latest"}
    shown = {i["videoId"] for p in pages for i in p["items"]}
    today = datetime.now(timezone.utc).date()
    moderator = auth(settings, uuid.uuid4(), roles=("moderator",))

    def metrics():
        body = api.get("/api/v1/admin/metrics/recommendations",
                       params={"from": str(today - timedelta(days=1)), "to": str(today)},
                       headers=moderator).json()
        pages_served = sum(d["pages"] for d in body["days"])
        return pages_served == len(pages) and body["coverage"][-1]["distinctVideosShown"] \
            == len(shown) and body
    body = eventually(metrics)
    assert body, "every page recorded"
    yesterday, covered = body["coverage"]
    assert yesterday == {"day": str(today - timedelta(days=1)), "distinctVideosShown": 0,
                         "catalogueSize": CATALOGUE, "catalogueCoverage": 0.0}
    assert covered["day"] == str(today) and covered["catalogueSize"] == CATALOGUE
    assert covered["catalogueCoverage"] == pytest.approx(len(shown) / CATALOGUE)
    new_pages = {d["source"]: d["newViewerPages"] for d in body["days"]}
    assert new_pages["personalized"] == 1  # the learner's; the regular is not new
    assert sum(new_pages.values()) == 4
    assert {d["newViewerPersonalisedShare"] for d in body["days"]} == {0.25}
    exposed = api.get("/metrics").text
    assert ('killrvideo_reco_new_viewer_pages_total{source="personalized",variant="default"}'
            in exposed)


def test_a_videos_impressions_and_viewers_per_day(api, cassandra, videos):
    settings, _ = cassandra
    carol, dan = uuid.uuid4(), uuid.uuid4()
    # Cold-start pages: both see the same first page; carol twice (a reload).
    pages = [feed(api, settings, carol), feed(api, settings, carol), feed(api, settings, dan)]
    video = pages[0]["items"][0]["videoId"]
    assert all(video in {i["videoId"] for i in p["items"]} for p in pages)
    moderator = auth(settings, uuid.uuid4(), roles=("moderator",))
    url = f"/api/v1/admin/videos/{video}/impressions"
    today = str(datetime.now(timezone.utc).date())

    def counted():
        body = api.get(url, headers=moderator).json()
        return body["days"][0]["viewers"] >= 2 and body
    body = eventually(counted)
    assert body, "both viewers recorded"
    assert body["videoId"] == video and len(body["days"]) == 7
    assert body["days"][0]["day"] == today
    # Other tests of this module served cold-start pages too: at least ours.
    first = body["days"][0]
    assert first["impressions"] >= 3 and first["viewers"] >= 2
    assert first["impressions"] >= first["viewers"]
    assert body["impressions"] == sum(d["impressions"] for d in body["days"])
    assert all(d["impressions"] == d["viewers"] == 0 for d in body["days"][1:])
    [never] = add_videos(settings, cassandra[1], [unit(np.ones(384))], ["never shown"])
    # Video endpoints say what was served to whom: moderators only; bad input named.
    assert api.get(url, headers=auth(settings, carol)).status_code == 403
    unknown = api.get(f"/api/v1/admin/videos/{uuid.uuid4()}/impressions", headers=moderator)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    for days in (0, 32, "week"):
        response = api.get(url, params={"days": days}, headers=moderator)
        assert response.status_code == 422, days
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "query.days" in {e["field"] for e in response.json()["errors"]}
    quiet = api.get(f"/api/v1/admin/videos/{never}/impressions", params={"days": 2},
                    headers=moderator).json()
    assert quiet["impressions"] == 0 and len(quiet["days"]) == 2
