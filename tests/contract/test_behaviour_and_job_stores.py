"""TrainingRepository, BehaviourRepository, MetadataRepository and JobRepository: the same
behaviour from the fakes and Cassandra."""
from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import datetime, timezone

import numpy as np

from killrvideo_reco.domain.jobs import Job, JobLease
from killrvideo_reco.domain.models import BehaviourRun
from tests.contract.test_video_and_viewer_stores import new_video, unit

STARTED = datetime(2026, 11, 1, tzinfo=timezone.utc)


def run(coroutine):
    return asyncio.run(coroutine)


def a_run(stores, slot: str) -> BehaviourRun:
    return BehaviourRun(f"run-{uuid.uuid4().hex[:8]}", slot, stores.settings.behaviour_dimension,
                        1.0, popular=(uuid.uuid4(),))


def test_a_run_is_served_once_complete_and_the_switch_retires_the_previous(stores):
    first, second = a_run(stores, "a"), a_run(stores, "b")
    run(stores.behaviour.save_run(first, "training", STARTED, None))
    assert run(stores.behaviour.run(first.run_id)) is None, "an unfinished run never serves"
    run(stores.behaviour.save_run(first, "complete", STARTED, '{"ndcg": 0.1}'))
    loaded = run(stores.behaviour.run(first.run_id))
    assert (loaded.slot, loaded.popular, loaded.query_map) == ("a", first.popular, None)
    run(stores.behaviour.activate(first.run_id, None))
    assert run(stores.behaviour.active_run()).run_id == first.run_id

    second = replace(second, query_map=b"\x02\x00\x00\x00" * 2 + bytes(16))  # an ALS run
    run(stores.behaviour.save_run(second, "complete", STARTED, None))
    assert run(stores.behaviour.run(second.run_id)).query_map == second.query_map
    run(stores.behaviour.activate(second.run_id, first.run_id))
    assert run(stores.behaviour.active_run()).run_id == second.run_id
    assert run(stores.behaviour.run(first.run_id)) is None, "the previous run is retired"


def test_a_run_searches_only_the_vectors_written_for_it(stores):
    dim, width = stores.settings.vector_dimension, stores.settings.behaviour_dimension + 1
    videos = [new_video(dim, seed) for seed in range(40, 44)]
    for video in videos:
        run(stores.videos.add(video))
    live, other = a_run(stores, "a"), a_run(stores, "a")
    vectors = {v.video_id: unit(width, n) for n, v in enumerate(videos)}
    run(stores.behaviour.write_videos("a", live.run_id,
                                      [(v, x, 0.5) for v, x in list(vectors.items())[:3]]))
    run(stores.behaviour.write_video("a", other.run_id, videos[3].video_id, vectors[videos[3].video_id]))
    target = videos[1].video_id
    found = run(stores.behaviour.nearest(live, "behaviour", vectors[target], None, 10))
    mine = {c.video_id: c for c in found if c.video_id in vectors}
    assert found[0].video_id == target and found[0].behaviour > 0.99
    assert mine[target].popularity == 0.5 and "behaviour" in mine[target].sources
    other_row = mine.get(videos[3].video_id)
    assert other_row is None or (other_row.behaviour, other_row.popularity) == (0.0, 0.0), (
        "another run's vector in the slot is no feature of this run")

    pool = run(stores.behaviour.popular_pool(live, [target]))
    assert pool.video_ids == (target,)
    np.testing.assert_allclose(pool.behaviour[0], vectors[target], atol=1e-6)

    # The ids-only query keeps the full query's order: the feed takes features from its cache.
    ids = run(stores.behaviour.nearest_ids(live, "behaviour", vectors[target], 10))
    assert ids[0] == target and ids == [c.video_id for c in found]
    by_content = run(stores.behaviour.nearest_ids(live, "content", unit(dim, 1), 10))
    assert by_content == [c.video_id for c in run(stores.behaviour.nearest(
        live, "content", None, unit(dim, 1), 10))]


def test_content_vectors_cover_the_catalogue(stores):
    video = new_video(stores.settings.vector_dimension, 50)
    run(stores.videos.add(video))
    ids, matrix = run(stores.behaviour.content_vectors())
    row = ids.index(video.video_id)
    assert matrix.shape == (len(ids), stores.settings.vector_dimension)
    np.testing.assert_allclose(matrix[row], video.content_features, atol=1e-6)


def test_metadata_is_set_and_read(stores):
    name = f"contract-{uuid.uuid4().hex[:6]}"
    assert run(stores.metadata.get(name)) is None
    run(stores.metadata.set(name, "v1"))
    assert run(stores.metadata.get(name)) == "v1"


def test_a_job_ends_once_and_is_found_as_the_latest(stores):
    kind = f"contract-{uuid.uuid4().hex[:6]}"
    job = Job(uuid.uuid4(), kind, owner="host:1", heartbeat_at=STARTED)
    run(stores.jobs.create(job))
    run(stores.jobs.set_latest(kind, job.job_id))
    assert run(stores.jobs.latest(kind)) == job.job_id
    job.progress = {"done": 1, "total": 2}
    run(stores.jobs.save_progress(job))
    assert run(stores.jobs.get(job.job_id)).progress == {"done": 1, "total": 2}
    assert run(stores.jobs.mark_interrupted(job.job_id, "lease lapsed")) is True
    job.status, job.result = "succeeded", {"users": 3}
    assert run(stores.jobs.finish(job)) is False, "an interrupted job is not finished later"
    stored = run(stores.jobs.get(job.job_id))
    assert (stored.status, stored.error) == ("interrupted", "lease lapsed")
    assert run(stores.jobs.get(uuid.uuid4())) is None


def test_one_lease_per_kind(stores):
    kind = f"contract-{uuid.uuid4().hex[:6]}"
    mine = JobLease(kind, uuid.uuid4(), "host:1")
    theirs = JobLease(kind, uuid.uuid4(), "host:2")
    assert run(stores.jobs.claim_lease(mine, 60)) is None
    assert run(stores.jobs.claim_lease(theirs, 60)) == mine, "the holder is reported"
    assert run(stores.jobs.renew_lease(mine, 60)) is True
    assert run(stores.jobs.renew_lease(theirs, 60)) is False
    assert run(stores.jobs.lease(kind)) == mine
    assert run(stores.jobs.release_lease(theirs)) is False
    assert run(stores.jobs.release_lease(mine)) is True
    assert run(stores.jobs.lease(kind)) is None


def test_runs_are_listed_newest_first_with_status_and_quality(stores):
    older = BehaviourRun("20261101T000000-aaaaaa", "a", stores.settings.behaviour_dimension, 1.0)
    newer = BehaviourRun("20261102T000000-bbbbbb", "b", stores.settings.behaviour_dimension, 1.0)
    run(stores.behaviour.save_run(older, "complete", STARTED,
                                  '{"ndcg@10 ranked": 0.07, "engine": "local"}'))
    run(stores.behaviour.save_run(newer, "training", STARTED, None))
    listed = run(stores.behaviour.list_runs(200))
    ours = [r for r in listed if r.run_id in (older.run_id, newer.run_id)]
    assert [r.run_id for r in ours] == [newer.run_id, older.run_id]
    assert (ours[0].status, ours[0].quality) == ("training", {})
    assert ours[1].status == "complete" and ours[1].quality["ndcg@10 ranked"] == 0.07
    assert ours[1].started_at.replace(tzinfo=timezone.utc) == STARTED
    assert ours[1].dimension == stores.settings.behaviour_dimension
    assert len(run(stores.behaviour.list_runs(1))) == 1, "the limit bounds the list"
