"""Training -> serving -> a view moves the behaviour vector -> a retrain switches atomically,
against a real Cassandra."""
from __future__ import annotations

import asyncio
import uuid

import numpy as np
import pytest

from killrvideo_reco.bootstrap import build_resources
from killrvideo_reco.domain.behaviour import behaviour_space, index_vectors, query_vector
from killrvideo_reco.embeddings.factory import build_provider
from killrvideo_reco.jobs.train import run_training
from killrvideo_reco.metrics import CANDIDATES_FETCHED
from tests.integration.seeding import TOPICS, auth, topic_world, wait_for_job

pytestmark = pytest.mark.integration
FEED = "/api/v1/recommendations/foryou"


@pytest.fixture(scope="module")
def world(cassandra):
    """36 videos over three topics; 45 viewers who each watch within one topic."""
    settings, _ = cassandra
    resources = build_resources(settings, build_provider(settings))
    ids, viewers = asyncio.run(topic_world(resources, np.random.default_rng(2)))
    yield settings, resources, ids, viewers
    resources.close()


def train_now(resources, settings, **options):
    return asyncio.run(run_training(resources, settings, **options))


def ensure_trained(resources, settings) -> None:
    """Tests may run alone: train once if no earlier test did."""
    if asyncio.run(resources.behaviour.active_run()) is None:
        train_now(resources, settings)


def test_training_switches_the_feed_and_views_move_the_behaviour_vector(world, api):
    settings, resources, ids, viewers = world
    before = api.get(FEED, headers=auth(settings, viewers["db"][0])).json()
    assert before["source"] == "personalized"

    summary = train_now(resources, settings)
    run = asyncio.run(resources.behaviour.active_run())
    assert run.run_id == summary["runId"] and run.slot == "a"
    assert summary["quality"]["trainedVideos"] == 36

    # Served: personalised, none watched, mostly the viewer's topic.
    user = viewers["space"][0]
    page = api.get(FEED, params={"pageSize": 10}, headers=auth(settings, user)).json()
    served = [uuid.UUID(i["videoId"]) for i in page["items"]]
    watched = {r.video_id for r in asyncio.run(resources.viewers.history(user))}
    assert page["source"] == "personalized" and len(served) == 10
    assert not set(served) & watched
    assert sum(v in ids["space"] for v in served) >= 5

    # A brand-new viewer with a single view already has a behaviour vector.
    newcomer = uuid.uuid4()
    asyncio.run(resources.activity.record_view(newcomer, ids["food"][0], "only-one", 590, 600))
    profile = asyncio.run(resources.viewers.profile(newcomer))
    first = profile.behaviour_in(run)
    assert first is not None and profile.preference_vector is None
    assert api.get(FEED, headers=auth(settings, newcomer)).json()["source"] == "personalized"

    # A second view moves it by exactly that video's vector (fresh views decay by ~0).
    asyncio.run(resources.activity.record_view(newcomer, ids["food"][1], "second", 590, 600))
    moved = asyncio.run(resources.viewers.profile(newcomer)).behaviour_in(run)
    facts = asyncio.run(resources.videos.facts(ids["food"][1]))
    from killrvideo_reco.domain.behaviour import video_behaviour
    added = video_behaviour(facts.behaviour, run) * min(590 / 600, 2.0)
    np.testing.assert_allclose(moved - first, added, rtol=1e-3, atol=1e-4)


def test_retrain_is_atomic_and_an_interrupted_one_leaves_the_old_run(world, api, monkeypatch):
    settings, resources, ids, viewers = world
    ensure_trained(resources, settings)
    first = asyncio.run(resources.behaviour.active_run())
    user = viewers["food"][1]

    def page():
        return api.get(FEED, params={"pageSize": 10}, headers=auth(settings, user)).json()

    served_before = page()

    # Interrupted after writing half the other slot (same dimension: the dangerous case).
    real_write = resources.behaviour.write_videos

    async def half_then_fail(slot, run_id, rows):
        await real_write(slot, run_id, rows[: len(rows) // 2])
        raise RuntimeError("killed mid-write")

    monkeypatch.setattr(resources.behaviour, "write_videos", half_then_fail)
    with pytest.raises(RuntimeError):
        train_now(resources, settings)
    monkeypatch.undo()
    assert asyncio.run(resources.behaviour.active_run()).run_id == first.run_id
    assert page()["items"] == served_before["items"], "run N still serves, untouched"

    summary = train_now(resources, settings)
    second = asyncio.run(resources.behaviour.active_run())
    assert second.run_id == summary["runId"] != first.run_id
    assert second.slot != first.slot and second.dimension == first.dimension
    profile = asyncio.run(resources.viewers.profile(user))
    assert profile.behaviour_in(second) is not None
    assert profile.behaviour_in(first) is not None, "the old slot is left as it was"
    after = page()
    assert after["source"] == "personalized" and len(after["items"]) == 10


def test_new_upload_is_placed_in_the_live_behaviour_space(world):
    settings, resources, ids, _ = world
    run = asyncio.run(resources.behaviour.active_run()) or (
        train_now(resources, settings) and asyncio.run(resources.behaviour.active_run()))
    video = asyncio.run(resources.catalogue.add_video(
        uuid.uuid4(), "Telescopes and black holes explained", TOPICS["space"], ["space"],
        None, None, 600, None))
    facts = asyncio.run(resources.videos.facts(video.video_id))
    assert run.slot in facts.behaviour and facts.behaviour[run.slot][0] == run.run_id


def test_ann_in_cassandra_agrees_with_exact_inner_product(world):
    """The SAI index over transformed vectors returns the inner-product top k."""
    settings, resources, ids, _ = world
    run = asyncio.run(resources.behaviour.active_run()) or (
        train_now(resources, settings) and asyncio.run(resources.behaviour.active_run()))
    all_ids = [v for t in ids.values() for v in t]
    facts = asyncio.run(resources.videos.facts_many(all_ids))
    from killrvideo_reco.domain.behaviour import video_behaviour
    raw = {v: video_behaviour(f.behaviour, run) for v, f in facts.items()}
    rng = np.random.default_rng(9)
    for _ in range(5):
        q = rng.normal(size=settings.behaviour_dimension)
        exact = sorted(raw, key=lambda v: -float(raw[v] @ q))[:5]
        found = asyncio.run(resources.behaviour.nearest(run, "behaviour", query_vector(q),
                                                        None, 5))
        assert [c.video_id for c in found][:3] == exact[:3]
        assert index_vectors(np.stack([raw[v] for v in exact]), run.max_norm).shape[1] == \
            settings.behaviour_dimension + 1


def test_two_stage_pages_are_consistent_and_exclude_what_was_seen(world, api):
    settings, resources, ids, viewers = world
    ensure_trained(resources, settings)
    user = viewers["db"][2]
    headers = auth(settings, user)
    hidden = ids["space"][0]
    assert api.post(f"/api/v1/recommendations/hidden/{hidden}", headers=headers).status_code == 200
    pages = [api.get(FEED, params={"page": n, "pageSize": 5}, headers=headers).json()
             for n in (1, 2, 3)]
    long = api.get(FEED, params={"pageSize": 15}, headers=headers).json()
    paged = [i["videoId"] for p in pages for i in p["items"]]
    assert len(paged) == len(set(paged)) == 15
    assert paged == [i["videoId"] for i in long["items"]]
    watched = {str(r.video_id) for r in asyncio.run(resources.viewers.history(user))}
    assert not set(paged) & watched and str(hidden) not in paged
    assert {p["source"] for p in pages} == {"personalized"}
    assert all(p["total"] == long["total"] for p in pages)


def test_a_view_invalidates_the_cached_ranked_list(world, api):
    settings, resources, ids, viewers = world
    ensure_trained(resources, settings)
    user = viewers["db"][3]
    headers = auth(settings, user)

    def hits() -> float:
        text = api.get("/metrics").text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith('killrvideo_feed_list_cache_total{result="hit"}'))

    first = api.get(FEED, params={"pageSize": 5}, headers=headers).json()
    before = hits()
    second = api.get(FEED, params={"page": 2, "pageSize": 5}, headers=headers).json()
    assert hits() == before + 1, "page 2 came from the cache"
    top = first["items"][0]["videoId"]
    view = api.post(f"/api/v1/videos/{top}/views", headers=headers,
                    json={"eventId": f"cache-{uuid.uuid4()}", "secondsWatched": 500,
                          "durationS": 600})
    assert view.status_code in (200, 201), view.text
    again = api.get(FEED, params={"pageSize": 5}, headers=headers).json()
    assert hits() == before + 1, "the view wrote a new profile version: a miss"
    assert top not in [i["videoId"] for i in again["items"] + second["items"]]


def test_related_videos_are_co_watched_and_leave_out_what_the_viewer_saw(world, api):
    settings, resources, ids, viewers = world
    ensure_trained(resources, settings)
    video = ids["space"][0]
    url = f"/api/v1/videos/{video}/related"
    public = api.get(url, params={"limit": 5})
    assert public.status_code == 200, public.text
    body = public.json()
    items = [i["videoId"] for i in body["items"]]
    assert body["videoId"] == str(video) and len(items) == 5 and str(video) not in items
    assert {i["space"] for i in body["items"]} == {"behaviour"}, "trained: co-watched"
    assert sum(i["videoId"] in {str(v) for v in ids["space"]} for i in body["items"]) >= 4
    assert body["items"][0]["reason"].startswith("Watched by people who watched")
    user = viewers["space"][0]
    watched = {str(r.video_id) for r in asyncio.run(resources.viewers.history(user))}
    mine = api.get(url, params={"limit": 5}, headers=auth(settings, user)).json()["items"]
    assert mine and not {i["videoId"] for i in mine} & watched
    assert api.get(f"/api/v1/videos/{uuid.uuid4()}/related").status_code == 404
    bad = api.get(url, params={"limit": 0})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert api.get(url, headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_behaviour_neighbour_lists_switch_with_the_run(world, api):
    """Each run writes its lists into its own slot before the switch; related videos
    serve the live run's list, read by key."""
    settings, resources, ids, _ = world
    ensure_trained(resources, settings)
    first = asyncio.run(resources.behaviour.active_run())
    video = ids["db"][3]

    def stored(slot):
        return asyncio.run(resources.neighbours.neighbour_lists(
            [video], behaviour_space(slot)))[video]

    assert stored(first.slot).version == first.run_id
    train_now(resources, settings, rebuild=False)
    second = asyncio.run(resources.behaviour.active_run())
    resources.runs.invalidate()
    mine = stored(second.slot)
    assert mine.version == second.run_id and video not in mine.video_ids
    assert len(mine.video_ids) >= 35, "every other video (tests may upload more)"
    assert stored(first.slot).version == first.run_id, "the old run's lists are untouched"
    body = api.get(f"/api/v1/videos/{video}/related", params={"limit": 5}).json()
    assert [i["videoId"] for i in body["items"]] == [str(v) for v in mine.video_ids[:5]]
    assert {i["space"] for i in body["items"]} == {"behaviour"}


def test_just_watched_candidates_cite_the_video_whose_list_brought_them(world, api):
    settings, resources, ids, _ = world
    ensure_trained(resources, settings)
    newcomer, watched = uuid.uuid4(), ids["space"][:2]
    for n, video in enumerate(watched):
        asyncio.run(resources.activity.record_view(newcomer, video, f"jw-{n}", 590, 600))
    fetched = CANDIDATES_FETCHED.labels("just watched")
    before = fetched._value.get()
    page = api.get(FEED, params={"pageSize": 10}, headers=auth(settings, newcomer)).json()
    assert page["source"] == "personalized"
    assert fetched._value.get() > before, "the lists of the two videos were read"
    run = asyncio.run(resources.behaviour.active_run())
    lists = asyncio.run(resources.neighbours.neighbour_lists(watched, behaviour_space(run.slot)))
    best: dict[str, tuple[float, str]] = {}
    for video, found in lists.items():
        for item, similarity in zip(found.video_ids, found.similarities.tolist()):
            if str(item) not in best or similarity > best[str(item)][0]:
                best[str(item)] = (similarity, str(video))
    listed = [i for i in page["items"] if i["videoId"] in best]
    assert listed, "co-watched videos are served"
    for item in listed:
        assert item["basedOn"][0]["videoId"] == best[item["videoId"]][1], \
            "cites the video whose list holds it best"


def test_training_job_over_http(world, api):
    settings, resources, _, viewers = world
    moderator = auth(settings, uuid.uuid4(), roles=("moderator",))
    assert api.post("/api/v1/admin/jobs/train", headers=auth(settings, uuid.uuid4())
                    ).status_code == 403
    before = asyncio.run(resources.behaviour.active_run())
    started = api.post("/api/v1/admin/jobs/train", headers=moderator)
    assert started.status_code == 202
    job_id = started.json()["jobId"]
    again = api.post("/api/v1/admin/jobs/train", headers=moderator)
    assert again.status_code in (202, 409), "a second start is refused while one runs"
    body = wait_for_job(api, job_id, moderator, 120, 0.3)
    assert body["status"] == "succeeded", body
    assert body["result"]["runId"] == asyncio.run(resources.behaviour.active_run()).run_id
    assert before is None or body["result"]["runId"] != before.run_id
    assert body["progress"]["done"] == body["progress"]["total"]


def test_an_unreachable_spark_master_fails_the_job_and_the_live_run_serves(world):
    """TRAIN_ENGINE=spark with no master answering: the job is `failed` with the cause
    in seconds (not after Spark's minute of retries), the lease is freed, and the live
    run keeps serving. Needs no PySpark: the master is checked before Spark starts."""
    import socket

    from fastapi.testclient import TestClient

    from killrvideo_reco.api.app import create_app

    settings, resources, _, viewers = world
    ensure_trained(resources, settings)
    live = asyncio.run(resources.behaviour.active_run())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        master = f"spark://127.0.0.1:{probe.getsockname()[1]}"
    spark = settings.model_copy(update={"train_engine": "spark", "spark_master": master})
    moderator = auth(settings, uuid.uuid4(), roles=("moderator",))
    with TestClient(create_app(spark), raise_server_exceptions=False) as client:
        before = client.get(FEED, headers=auth(settings, viewers["db"][2])).json()
        started = client.post("/api/v1/admin/jobs/train", headers=moderator)
        assert started.status_code == 202
        body = wait_for_job(client, started.json()["jobId"], moderator, 60, 0.2)
        assert body["status"] == "failed", body
        assert master in body["error"] and "does not answer" in body["error"]
        assert asyncio.run(resources.behaviour.active_run()).run_id == live.run_id
        after = client.get(FEED, headers=auth(settings, viewers["db"][2])).json()
        # The same page (each answer has its own recommendationId).
        assert {**after, "recommendationId": None} == {**before, "recommendationId": None}
        again = client.post("/api/v1/admin/jobs/train", headers=moderator)
        assert again.status_code == 202, "the lease was freed by the failed job"
        wait_for_job(client, again.json()["jobId"], moderator, 60, 0.2)


def test_als_with_the_weighted_penalty_serves_each_viewer_their_topic(world, api):
    """TRAIN_ALS_PENALTY=weighted (ALS-WR, as the Spark engine's MLlib) trains a run that
    the feed serves like any other: personalised, nothing watched, the viewer's topic."""
    settings, resources, ids, viewers = world
    als = settings.model_copy(update={"train_model": "als", "train_als_penalty": "weighted"})
    summary = train_now(resources, als)
    run = asyncio.run(resources.behaviour.active_run())
    assert run.run_id == summary["runId"] and run.query_map is not None, "an ALS run"
    assert summary["quality"]["model"] == "als"
    for topic in ("space", "db"):
        user = viewers[topic][1]
        page = api.get(FEED, params={"pageSize": 10}, headers=auth(settings, user)).json()
        served = [uuid.UUID(i["videoId"]) for i in page["items"]]
        watched = {r.video_id for r in asyncio.run(resources.viewers.history(user))}
        assert page["source"] == "personalized" and len(served) == 10
        assert not set(served) & watched
        assert sum(v in ids[topic] for v in served) >= 5
    train_now(resources, settings)  # back to the default model for the tests after this one
