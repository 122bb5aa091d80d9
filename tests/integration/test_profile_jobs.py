"""Batch profile rebuild (CLI and HTTP job), model changes and re-embedding."""
import asyncio
import uuid

import numpy as np
import pytest

from killrvideo_reco.bootstrap import build_resources
from killrvideo_reco.domain.jobs import Job, JobLease, utc_now
from killrvideo_reco.embeddings.factory import build_provider
from killrvideo_reco.jobs.profiles import Checkpoint, rebuild_all_profiles, rebuild_profiles, token_splits
from killrvideo_reco.jobs.reembed import reembed
from tests.integration.seeding import auth, wait_for_job

pytestmark = pytest.mark.integration
TOPICS = {"db": "Cassandra partition keys and data modeling for tables",
          "space": "Telescopes galaxies and black holes in deep space",
          "food": "Sourdough bread baking recipe in the kitchen"}


@pytest.fixture(scope="module")
def world(cassandra):
    """Videos posted over HTTP-equivalent service calls, three viewers with histories."""
    settings, _ = cassandra
    resources = build_resources(settings, build_provider(settings))

    async def seed():
        ids = {}
        for topic, text in TOPICS.items():
            ids[topic] = [(await resources.catalogue.add_video(
                uuid.uuid4(), f"{text} part {n}", text, [topic], None, None, 600, None)).video_id
                for n in range(12)]
        viewers = {}
        for topic in TOPICS:
            viewer = uuid.uuid4()
            for n, video in enumerate(ids[topic][:5]):
                await resources.activity.record_view(viewer, video, f"e{n}", 580, 600)
            viewers[topic] = viewer
        return ids, viewers

    ids, viewers = asyncio.run(seed())
    yield settings, resources, ids, viewers
    resources.close()


def test_token_splits_cover_the_ring_without_gaps():
    splits = token_splits(7)
    assert splits[0][0] == -(2 ** 63) and splits[-1][1] == 2 ** 63 - 1
    assert all(a[1] == b[0] for a, b in zip(splits, splits[1:]))


def test_batch_rebuild_equals_online_profiles(world):
    settings, resources, _, viewers = world

    async def run():
        online = {t: await resources.viewers.profile(v) for t, v in viewers.items()}
        for viewer in viewers.values():  # wipe the read model: the job must restore it
            resources.database.session.execute(
                f"DELETE FROM {settings.cassandra_keyspace}.user_preferences WHERE userid=%s",
                (viewer,))
        summary = await rebuild_profiles(resources.videos, resources.viewers, resources.activity,
                                         parallelism=4, splits=16)
        rebuilt = {t: await resources.viewers.profile(v) for t, v in viewers.items()}
        return online, summary, rebuilt

    online, summary, rebuilt = asyncio.run(run())
    assert summary["users"] >= 3 and summary["withProfile"] >= 3
    for topic in TOPICS:
        np.testing.assert_allclose(np.asarray(rebuilt[topic].preference_vector),
                                   np.asarray(online[topic].preference_vector), atol=1e-5)


def test_interrupted_rebuild_resumes_from_checkpoint(world, tmp_path):
    settings, resources, _, _ = world
    path = tmp_path / "checkpoint.json"
    splits = 8
    model = asyncio.run(resources.videos.catalogue_model())
    checkpoint = Checkpoint(path, f"{splits}:{model}")
    for index in range(splits):  # pretend every range finished before the interruption
        checkpoint.mark(index)
    summary = asyncio.run(rebuild_profiles(resources.videos, resources.viewers,
                                           resources.activity, splits=splits,
                                           checkpoint_path=path))
    assert summary["users"] == 0, "finished ranges are not scanned again"
    assert not path.exists(), "a completed run removes its checkpoint"


def test_make_profiles_is_a_leased_job_that_continues_an_interrupted_one(world, capsys):
    settings, resources, _, _ = world
    jobs = resources.jobs
    elsewhere = JobLease("profiles", uuid.uuid4(), "replica-b:4242")
    assert asyncio.run(jobs.claim_lease(elsewhere, 30)) is None
    try:
        assert rebuild_all_profiles(settings, parallelism=2) == 1
        assert str(elsewhere.job_id) in capsys.readouterr().err, "it names the running job"
    finally:
        assert asyncio.run(jobs.release_lease(elsewhere))

    model = asyncio.run(resources.videos.catalogue_model())
    stopped = Job(uuid.uuid4(), "profiles", status="interrupted", owner="cli:gone:1",
                  heartbeat_at=utc_now(), cursor={"key": f"256:{model}", "done": list(range(10))})

    async def record_interrupted():
        await jobs.create(stopped)
        await jobs.set_latest("profiles", stopped.job_id)
    asyncio.run(record_interrupted())

    assert rebuild_all_profiles(settings, parallelism=2) == 0
    assert "10 ranges done before" in capsys.readouterr().out
    job = asyncio.run(jobs.get(asyncio.run(jobs.latest("profiles"))))
    assert job.job_id != stopped.job_id and job.owner.startswith("cli:")
    assert job.status == "succeeded" and job.resumed_from == stopped.job_id
    assert job.result["resumedRanges"] == 10 and job.result["users"] >= 1
    assert asyncio.run(jobs.lease("profiles")) is None, "the lease is freed at the end"


def test_profiles_job_over_http(api, cassandra, world):
    settings, _ = cassandra
    moderator = auth(settings, uuid.uuid4(), roles=("moderator",))
    assert api.post("/api/v1/admin/jobs/profiles", headers=auth(settings, uuid.uuid4())).status_code == 403
    started = api.post("/api/v1/admin/jobs/profiles", headers=moderator)
    assert started.status_code == 202
    job_id = started.json()["jobId"]
    assert started.headers["location"].endswith(job_id)
    body = wait_for_job(api, job_id, moderator, 60, 0.2)
    assert body["status"] == "succeeded", body
    assert body["result"]["users"] >= 3
    assert body["progress"]["done"] == body["progress"]["total"]
    assert api.get(f"/api/v1/admin/jobs/{uuid.uuid4()}", headers=moderator).status_code == 404
    # The same progress reaches /metrics.
    scrape = api.get("/metrics").text
    assert 'killrvideo_job_progress_ratio{kind="profiles"} 1.0' in scrape
    assert 'killrvideo_jobs_total{kind="profiles",status="succeeded"}' in scrape


def test_model_change_means_cold_start_until_reembed(api, cassandra, world):
    settings, resources, ids, viewers = world
    headers = auth(settings, viewers["space"])
    before = api.get("/api/v1/recommendations/foryou", headers=headers).json()
    assert before["source"] == "personalized"
    # Same dimension, another model: every stored vector and profile is now stale.
    new_settings = settings.model_copy(update={"embedding_model_id": "hashing-v1-retrained"})
    asyncio.run(resources.videos.set_catalogue_model("hashing-v1-retrained"))
    stale = api.get("/api/v1/recommendations/foryou", headers=headers).json()
    assert stale["source"] in ("trending", "latest")
    embedder = build_provider(new_settings)
    summary = asyncio.run(reembed(resources, embedder, new_settings, recreated=False))
    assert summary["videos"] == sum(len(v) for v in ids.values())
    after = api.get("/api/v1/recommendations/foryou", headers=headers).json()
    assert after["source"] == "personalized"
    unwatched_space = {str(v) for v in ids["space"][5:]}
    assert {item["videoId"] for item in after["items"][:7]} == unwatched_space
