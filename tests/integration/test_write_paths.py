"""Videos, views and hides through the HTTP API, and the online profile they drive."""
import asyncio
import json
import math
import uuid

import numpy as np
import pytest

from tests.integration.seeding import add_videos, auth, cluster_vectors, unit

pytestmark = pytest.mark.integration


def post_video(api, settings, user, roles=("creator",), **body):
    payload = {"title": "Intro to CQL", "description": "Tables and partitions",
               "tags": ["cassandra", "cql"], **body}
    # Raw JSON so that NaN/Infinity literals reach the server as a client may send them.
    return api.post("/api/v1/videos", content=json.dumps(payload, allow_nan=True),
                    headers={**auth(settings, user, roles), "Content-Type": "application/json"})


def test_creator_adds_video_and_embedding_is_computed(api, cassandra):
    settings, _ = cassandra
    creator = uuid.uuid4()
    response = post_video(api, settings, creator)
    assert response.status_code == 201, response.text
    video = response.json()
    assert video["userId"] == str(creator) and video["embeddingModel"].startswith("hashing")
    fetched = api.get(f"/api/v1/videos/{video['videoId']}", headers=auth(settings, uuid.uuid4()))
    assert fetched.status_code == 200 and fetched.json()["title"] == "Intro to CQL"


def test_viewer_cannot_add_videos(api, cassandra):
    settings, _ = cassandra
    assert post_video(api, settings, uuid.uuid4(), roles=("viewer",)).status_code == 403


@pytest.mark.parametrize("features, says", [
    ([0.1] * 10, "10 dimensions"),
    ([0.0] * 384, "all zeros"),
    ([float("nan")] + [0.1] * 383, "NaN"),
    ([float("inf")] + [0.1] * 383, "infinite"),
])
def test_bad_vectors_get_422_saying_why(api, cassandra, features, says):
    settings, _ = cassandra
    response = post_video(api, settings, uuid.uuid4(), contentFeatures=features)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert says in response.json()["detail"]


def test_malformed_json_says_so(api, cassandra):
    settings, _ = cassandra
    response = api.post("/api/v1/videos", content=b"{not json",
                        headers={**auth(settings, uuid.uuid4(), ("creator",)),
                                 "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"
    assert "not valid JSON" in response.json()["detail"]


def test_unknown_video_is_404(api, cassandra):
    settings, _ = cassandra
    missing = uuid.uuid4()
    headers = auth(settings, uuid.uuid4())
    assert api.get(f"/api/v1/videos/{missing}", headers=headers).status_code == 404
    view = api.post(f"/api/v1/videos/{missing}/views", headers=headers,
                    json={"eventId": "e1", "secondsWatched": 10})
    assert view.status_code == 404
    assert api.post(f"/api/v1/recommendations/hidden/{missing}", headers=headers).status_code == 404
    assert api.get("/api/v1/videos/not-a-uuid", headers=headers).status_code == 422


def test_view_events_are_idempotent_and_counted(api, cassandra):
    settings, session = cassandra
    [video] = add_videos(settings, session, [unit(np.ones(384))])
    viewer = uuid.uuid4()
    url = f"/api/v1/videos/{video}/views"
    first = api.post(url, json={"eventId": "play-1", "secondsWatched": 120, "durationS": 600},
                     headers=auth(settings, viewer))
    retry = api.post(url, json={"eventId": "play-1", "secondsWatched": 120, "durationS": 600},
                     headers=auth(settings, viewer))
    second = api.post(url, json={"eventId": "play-2", "secondsWatched": 60},
                      headers=auth(settings, viewer))
    # recommendationId: null, the video was never shown to this viewer.
    assert first.json() == {"recorded": True, "playCount": 1, "secondsWatched": 120.0,
                            "recommendationId": None}
    assert retry.json()["recorded"] is False and retry.json()["playCount"] == 1
    assert second.json() == {"recorded": True, "playCount": 2, "secondsWatched": 180.0,
                             "recommendationId": None}
    views = session.execute(f"SELECT views FROM {settings.cassandra_keyspace}.video_view_counts "
                            "WHERE videoid=%s", (video,)).one().views
    assert views == 2


@pytest.mark.parametrize("body", [{"secondsWatched": 10}, {"eventId": "x", "secondsWatched": -1},
                                  {"eventId": "", "secondsWatched": 1},
                                  {"eventId": "x", "secondsWatched": 1, "extra": 1}])
def test_bad_view_bodies_are_rejected(api, cassandra, body):
    settings, session = cassandra
    [video] = add_videos(settings, session, [unit(np.ones(384))])
    response = api.post(f"/api/v1/videos/{video}/views", json=body,
                        headers=auth(settings, uuid.uuid4()))
    assert response.status_code == 422 and response.json()["errors"]


def test_watches_personalise_the_feed_at_once_with_based_on(api, cassandra):
    settings, session = cassandra
    rng = np.random.default_rng(11)
    a, b = unit(rng.normal(size=384)), unit(rng.normal(size=384))
    ids_a = add_videos(settings, session, cluster_vectors(rng, a, 30), [f"A{i}" for i in range(30)])
    add_videos(settings, session, cluster_vectors(rng, b, 30), [f"B{i}" for i in range(30)])
    viewer = uuid.uuid4()
    headers = auth(settings, viewer)
    before = api.get("/api/v1/recommendations/foryou", headers=headers).json()
    assert before["source"] != "personalized"
    for n, video in enumerate(ids_a[:4]):
        response = api.post(f"/api/v1/videos/{video}/views", headers=headers,
                            json={"eventId": f"w{n}", "secondsWatched": 590, "durationS": 600})
        assert response.status_code == 200
    after = api.get("/api/v1/recommendations/foryou", params={"pageSize": 10},
                    headers=headers).json()
    assert after["source"] == "personalized"
    returned = [uuid.UUID(item["videoId"]) for item in after["items"]]
    assert set(returned) <= set(ids_a[4:]), "recommends the watched topic, minus what was watched"
    watched = {str(v) for v in ids_a[:4]}
    for item in after["items"]:
        assert item["basedOn"], "each personalised item says what it is based on"
        assert {b["videoId"] for b in item["basedOn"]} <= watched
        assert len(item["basedOn"]) <= 3


def test_concurrent_events_for_one_viewer_lose_nothing(cassandra):
    from killrvideo_reco.bootstrap import profile_params
    from killrvideo_reco.service.activity import ActivityService
    from killrvideo_reco.store.videos import VideoStore
    from killrvideo_reco.store.viewers import ViewerStore

    settings, session = cassandra
    rng = np.random.default_rng(3)
    ids = add_videos(settings, session, cluster_vectors(rng, unit(rng.normal(size=384)), 12))
    videos = VideoStore(session, settings.cassandra_keyspace)
    viewers = ViewerStore(session, settings.cassandra_keyspace)
    service = ActivityService(videos, viewers, profile_params(settings), 384)
    viewer = uuid.uuid4()

    async def run():
        # 12 videos x 2 events each, all at once: every one must land.
        await asyncio.gather(*(service.record_view(viewer, video, f"{video}-{n}", 100 + n, 600)
                               for video in ids for n in range(2)))
        online = await service.taste(viewer)
        history = await viewers.history(viewer)
        await service.rebuild(viewer, "hashing-v1:384")
        prefs = await viewers.profile(viewer)
        return online, history, prefs

    online, history, prefs = asyncio.run(run())
    assert len(history) == 12
    assert all(row.play_count == 2 and math.isclose(row.seconds_watched, 201) for row in history)
    params = profile_params(settings)
    online_vector = online.preference_vector(params)
    assert online_vector is not None
    np.testing.assert_allclose(online_vector, np.asarray(prefs.preference_vector), atol=1e-5)


def test_a_days_views_spread_over_buckets_and_trending_reads_them_all(cassandra):
    from datetime import date

    from killrvideo_reco.store.viewers import VIEW_BUCKETS, ViewerStore, view_bucket

    settings, session = cassandra
    viewers = ViewerStore(session, settings.cassandra_keyspace)
    day, videos = date(2026, 1, 2), [uuid.uuid4() for _ in range(64)]

    async def count():
        await asyncio.gather(*(viewers.count_view(v, day, True) for v in videos for _ in range(2)))
        return await viewers.views_on(day)

    assert sorted(asyncio.run(count())) == sorted((v, 2) for v in videos)
    partitions = {(row.day.date(), row.bucket) for row in session.execute(
        f"SELECT DISTINCT day, bucket FROM {settings.cassandra_keyspace}.video_views_by_day_bucket")
        if row.day.date() == day}
    assert partitions == {(day, view_bucket(v)) for v in videos}
    assert len(partitions) > VIEW_BUCKETS // 2, "64 videos land in most of the 16 buckets"


def test_a_damaged_journal_entry_rebuilds_the_state_and_loses_no_view(cassandra):
    from killrvideo_reco.bootstrap import profile_params
    from killrvideo_reco.service.activity import ActivityService
    from killrvideo_reco.store.videos import VideoStore
    from killrvideo_reco.store.viewers import ViewerStore

    settings, session = cassandra
    rng = np.random.default_rng(5)
    ids = add_videos(settings, session, cluster_vectors(rng, unit(rng.normal(size=384)), 5))
    viewers = ViewerStore(session, settings.cassandra_keyspace)
    service = ActivityService(VideoStore(session, settings.cassandra_keyspace), viewers,
                              profile_params(settings), 384)  # keeps no state: reads the store
    viewer = uuid.uuid4()

    async def run():
        for n, video in enumerate(ids[:4]):
            await service.record_view(viewer, video, f"e{n}", 400, 600)
        assert len((await viewers.taste_state(viewer)).journal) == 3
        session.execute(f"UPDATE {settings.cassandra_keyspace}.viewer_history "
                        "SET taste_journal[1] = 0xdead WHERE userid = %s", (viewer,))
        await service.record_view(viewer, ids[4], "e4", 400, 600)
        return await viewers.taste_state(viewer), await service.taste(viewer)

    stored, state = asyncio.run(run())
    assert stored.journal == (), "rebuilt from history: a snapshot, the journal cleared"
    assert state.positive_count() == 5, "every view counted, none lost to the damage"
