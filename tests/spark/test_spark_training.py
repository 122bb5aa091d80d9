"""TRAIN_ENGINE=spark end to end: ALS trained on the local Spark standalone cluster from
the history in a real Cassandra node, the run served by the feed, a view moving the
viewer's behaviour vector, and a failing Spark job leaving the live run serving."""
from __future__ import annotations

import asyncio
import uuid

import numpy as np
import pytest

from killrvideo_reco.api.app import create_app
from killrvideo_reco.bootstrap import build_resources
from killrvideo_reco.domain.behaviour import video_behaviour
from killrvideo_reco.embeddings.factory import build_provider
from killrvideo_reco.jobs.train import run_training
from killrvideo_reco.training.spark_session import SparkUnavailable
from tests.integration.seeding import auth, topic_world, wait_for_job

pytestmark = pytest.mark.integration
FEED = "/api/v1/recommendations/foryou"


@pytest.fixture(scope="module")
def world(cassandra, spark_master):
    """36 videos over three topics; 45 viewers who each watch 6 videos of one topic."""
    settings, _ = cassandra
    settings = settings.model_copy(update={
        "train_engine": "spark", "spark_master": spark_master, "train_model": "als",
        "spark_driver_memory": "768m", "spark_executor_memory": "768m"})
    resources = build_resources(settings, build_provider(settings))
    rng = np.random.default_rng(2)

    async def seed():
        ids, viewers = await topic_world(resources, rng)
        # A bounce: not a positive, so it must not count as a watched video.
        await resources.activity.record_view(viewers["db"][0], ids["space"][0], "bounce", 5, 600)
        return ids, viewers

    ids, viewers = asyncio.run(seed())
    yield settings, resources, ids, viewers
    resources.close()


def test_spark_run_is_served_and_a_view_moves_the_behaviour_vector(world, api):
    settings, resources, ids, viewers = world
    summary = asyncio.run(run_training(resources, settings))
    run = asyncio.run(resources.behaviour.active_run())
    assert summary["engine"] == "spark" and summary["model"] == "als"
    assert run.run_id == summary["runId"]
    quality = summary["quality"]
    assert quality["trainedVideos"] == 36 and quality["viewers"] == 45
    assert quality["positives"] == 45 * 6, "the bounce is not a positive"
    assert summary["profiles"] is not None

    # The feed serves the Spark run: personalised, nothing watched, mostly the topic.
    user = viewers["space"][0]
    page = api.get(FEED, params={"pageSize": 10}, headers=auth(settings, user)).json()
    served = [uuid.UUID(i["videoId"]) for i in page["items"]]
    watched = {r.video_id for r in asyncio.run(resources.viewers.history(user))}
    assert page["source"] == "personalized" and len(served) == 10
    assert not set(served) & watched
    assert sum(v in ids["space"] for v in served) >= 5

    # The viewer vector Spark wrote is the weighted sum of the served video vectors.
    profile = asyncio.run(resources.viewers.profile(user))
    facts = asyncio.run(resources.videos.facts_many(list(watched)))
    expected = sum(video_behaviour(facts[v].behaviour, run) * (580 / 600) for v in watched)
    np.testing.assert_allclose(profile.behaviour_in(run), expected, rtol=1e-3, atol=1e-4)

    # A view moves the viewer's behaviour vector by that video's vector.
    newcomer = uuid.uuid4()
    asyncio.run(resources.activity.record_view(newcomer, ids["food"][0], "one", 590, 600))
    first = asyncio.run(resources.viewers.profile(newcomer)).behaviour_in(run)
    asyncio.run(resources.activity.record_view(newcomer, ids["food"][1], "two", 590, 600))
    moved = asyncio.run(resources.viewers.profile(newcomer)).behaviour_in(run)
    added = video_behaviour(asyncio.run(resources.videos.facts(ids["food"][1])).behaviour, run)
    np.testing.assert_allclose(moved - first, added * (590 / 600), rtol=1e-3, atol=1e-4)
    assert api.get(FEED, headers=auth(settings, newcomer)).json()["source"] == "personalized"


def test_a_failed_spark_job_fails_the_training_job_and_the_live_run_serves(world):
    """The connector cannot reach Cassandra: the Spark job fails, the training job is
    `failed` with the cause, and the run that was live still is."""
    from fastapi.testclient import TestClient

    settings, resources, _, viewers = world
    if asyncio.run(resources.behaviour.active_run()) is None:
        asyncio.run(run_training(resources, settings))
    live = asyncio.run(resources.behaviour.active_run())
    broken = settings.model_copy(update={"spark_extra_conf": "spark.cassandra.connection.port=1"})
    moderator = auth(settings, uuid.uuid4(), roles=("moderator",))
    with TestClient(create_app(broken), raise_server_exceptions=False) as client:
        before = client.get(FEED, headers=auth(settings, viewers["db"][1])).json()
        started = client.post("/api/v1/admin/jobs/train", headers=moderator)
        assert started.status_code == 202
        body = wait_for_job(client, started.json()["jobId"], moderator, 240, 0.5)
        assert body["status"] == "failed", body
        assert "Cassandra" in body["error"] or "port" in body["error"], body["error"]
        assert asyncio.run(resources.behaviour.active_run()).run_id == live.run_id
        after = client.get(FEED, headers=auth(settings, viewers["db"][1])).json()
        assert after["items"] == before["items"], "the live run serves, untouched"


def test_a_master_that_cannot_give_an_executor_fails_in_time_and_the_live_run_serves(world):
    """Every worker is smaller than the executor asked for: without the wait limit the job
    would wait for ever; it fails with the cause, and the live run is untouched."""
    settings, resources, _, _ = world
    if asyncio.run(resources.behaviour.active_run()) is None:
        asyncio.run(run_training(resources, settings))
    live = asyncio.run(resources.behaviour.active_run())
    starved = settings.model_copy(update={"spark_executor_memory": "64g",
                                          "spark_executor_wait_s": 15.0})
    with pytest.raises(SparkUnavailable, match="no executor from the Spark master"):
        asyncio.run(run_training(resources, starved))
    assert asyncio.run(resources.behaviour.active_run()).run_id == live.run_id
