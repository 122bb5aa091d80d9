"""The job registry against an in-memory store: replicas that share it see each other's
jobs, never run one kind twice at once, take over after a lapsed lease, and resume an
interrupted job from its cursor (or say why they start again)."""
from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from killrvideo_reco.domain.jobs import Job
from killrvideo_reco.service.job_registry import (
    LEASE_LAPSED,
    LEASE_LOST,
    SHUTDOWN,
    JobAlreadyRunning,
    JobPolicy,
    JobRegistry,
)
from tests.fakes import FakeJobStore

FAST = JobPolicy(lease_ttl_s=3, progress_interval_s=0.01, resume_max_age_s=3600,
                 shutdown_wait_s=2)


@dataclass
class Report:
    done: int
    cursor: dict | None = None

    def snapshot(self) -> dict:
        return {"done": self.done, "total": 10}


def replicas(count: int = 2, policy: JobPolicy = FAST, **kwargs):
    store = FakeJobStore()
    return store, [JobRegistry(store, policy, owner=f"host:{n}", **kwargs) for n in range(count)]


def blocking_work(seen: list, steps: int = 3):
    """Reports `steps` finished units with a cursor, then waits until cancelled."""
    async def work(on_progress, cursor):
        seen.append(cursor)
        for step in range(1, steps + 1):
            on_progress(Report(step, {"done": list(range(step))}))
        await asyncio.sleep(3600)
    return work


async def until(predicate, timeout_s: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.01)


def test_a_job_started_on_one_replica_is_followed_on_another():
    store, (a, b) = replicas()

    async def scenario():
        release = asyncio.Event()

        async def work(on_progress, cursor):
            on_progress(Report(5))
            await release.wait()
            return {"users": 7}

        job = await a.start("profiles", work)
        await until(lambda: _progress_of(b, job.job_id, 5))
        seen = await b.get(job.job_id)
        assert (seen.status, seen.owner) == ("running", "host:0")
        release.set()
        await until(lambda: _status_of(b, job.job_id, "succeeded"))
        done = await b.get(job.job_id)
        assert done.result == {"users": 7} and done.finished_at is not None
        assert await b.get(uuid.uuid4()) is None
        assert store.leases == {}, "the lease is released at the end"

    asyncio.run(scenario())


async def _progress_of(registry, job_id, done) -> bool:
    job = await registry.get(job_id)
    return job.progress.get("done") == done


async def _status_of(registry, job_id, status) -> bool:
    return (await registry.get(job_id)).status == status


def test_two_replicas_never_run_one_kind_at_once():
    store, (a, b) = replicas()

    async def scenario():
        first = await a.start("profiles", blocking_work([]))
        with pytest.raises(JobAlreadyRunning) as refused:
            await b.start("profiles", blocking_work([]))
        assert refused.value.job.job_id == first.job_id
        with pytest.raises(JobAlreadyRunning):
            await a.start("profiles", blocking_work([]))
        other = await b.start("train", blocking_work([]))  # another kind is free
        assert other.status == "running"
        await a.shutdown()
        await b.shutdown()

    asyncio.run(scenario())


def test_a_dead_replicas_job_is_reported_interrupted_and_resumed():
    store, (b,) = replicas(1)
    dead = Job(uuid.uuid4(), "profiles", owner="gone:9", heartbeat_at=datetime.now(timezone.utc),
               cursor={"done": [0, 1, 2]})
    store.jobs[dead.job_id] = dead
    store.latest_by_kind["profiles"] = dead.job_id
    # Its lease row lapsed with its process: there is none.

    async def scenario():
        reported = await b.get(dead.job_id)
        assert (reported.status, reported.error) == ("interrupted", LEASE_LAPSED)
        seen: list = []
        job = await b.start("profiles", blocking_work(seen, steps=0))
        await until(lambda: _true(seen))
        assert seen == [{"done": [0, 1, 2]}] and job.resumed_from == dead.job_id
        await b.shutdown()

    asyncio.run(scenario())


async def _true(seen) -> bool:
    return bool(seen)


def test_a_new_job_takes_over_a_running_record_whose_lease_lapsed():
    store, (a, b) = replicas()

    async def scenario():
        stale = await a.start("profiles", blocking_work([]))
        await until(lambda: _progress_of(b, stale.job_id, 3))
        store.advance(FAST.lease_ttl_s + 1)  # A could not renew for longer than its lease
        seen: list = []
        job = await b.start("profiles", blocking_work(seen, steps=0))
        assert job.resumed_from == stale.job_id
        await until(lambda: _true(seen))
        assert seen == [{"done": [0, 1, 2]}]
        # A notices at its next renewal, stops its work and does not overwrite the verdict.
        await until(lambda: _no_jobs(a), timeout_s=FAST.lease_ttl_s + 1)
        assert (await b.get(stale.job_id)).error == LEASE_LAPSED
        await b.shutdown()

    asyncio.run(scenario())


async def _no_jobs(registry) -> bool:
    return not registry._running


def test_a_lost_lease_stops_the_work():
    store, (a,) = replicas(1)

    async def scenario():
        job = await a.start("profiles", blocking_work([]))
        store.leases.clear()  # as if it lapsed while Cassandra was out of reach
        await until(lambda: _no_jobs(a), timeout_s=FAST.lease_ttl_s + 1)
        stored = await a.get(job.job_id)
        assert (stored.status, stored.error) == ("interrupted", LEASE_LOST)

    asyncio.run(scenario())


def test_shutdown_records_the_cursor_and_the_next_job_resumes_from_it():
    store, (a, b) = replicas()

    async def scenario():
        old = await a.start("profiles", blocking_work([], steps=4))
        await asyncio.sleep(0.05)
        await a.shutdown()
        stopped = await b.get(old.job_id)
        assert (stopped.status, stopped.error) == ("interrupted", SHUTDOWN)
        assert stopped.cursor == {"done": [0, 1, 2, 3]} and stopped.finished_at is not None
        assert store.leases == {}, "shutdown frees the kind at once, not after the TTL"
        seen: list = []
        new = await b.start("profiles", blocking_work(seen, steps=0))
        await until(lambda: _true(seen))
        assert seen == [{"done": [0, 1, 2, 3]}]
        assert (new.resumed_from, new.restarted_from) == (old.job_id, None)
        await b.shutdown()

    asyncio.run(scenario())


def test_a_kind_that_cannot_resume_or_a_stale_cursor_restarts_and_says_so():
    clock = [datetime.now(timezone.utc)]
    store, (a,) = replicas(1, clock=lambda: clock[0])

    async def scenario():
        old = await a.start("train", blocking_work([]))
        await asyncio.sleep(0.05)
        await a.shutdown()
        seen: list = []
        new = await a.start("train", blocking_work(seen), resumable=False)
        await until(lambda: _true(seen))
        assert seen == [None] and (new.restarted_from, new.resumed_from) == (old.job_id, None)
        await a.shutdown()
        clock[0] += timedelta(seconds=FAST.resume_max_age_s + 1)
        seen.clear()
        late = await a.start("train", blocking_work(seen))
        await until(lambda: _true(seen))
        assert seen == [None] and late.restarted_from == new.job_id
        await a.shutdown()

    asyncio.run(scenario())


def test_a_failing_job_is_failed_and_frees_its_kind():
    store, (a,) = replicas(1)

    async def scenario():
        async def work(on_progress, cursor):
            raise ValueError("nothing to train")

        job = await a.start("train", work)
        await until(lambda: _status_of(a, job.job_id, "failed"))
        assert (await a.get(job.job_id)).error == "ValueError: nothing to train"
        assert store.leases == {}

    asyncio.run(scenario())


def test_progress_is_saved_throttled_not_per_item():
    store = FakeJobStore()
    registry = JobRegistry(store, JobPolicy(lease_ttl_s=30, progress_interval_s=0.1))

    async def scenario():
        async def work(on_progress, cursor):
            for step in range(2000):
                on_progress(Report(step))
                if step % 100 == 0:
                    await asyncio.sleep(0.01)  # ~0.2 s of work in all
            return {}

        job = await registry.start("profiles", work)
        await until(lambda: _status_of(registry, job.job_id, "succeeded"))
        assert (await registry.get(job.job_id)).progress["done"] == 1999

    asyncio.run(scenario())
    assert 1 <= store.progress_writes <= 4, store.progress_writes


def test_a_short_cassandra_outage_does_not_stop_a_job():
    store, (a,) = replicas(1)

    async def scenario():
        release = asyncio.Event()

        async def work(on_progress, cursor):
            on_progress(Report(1))
            await release.wait()
            return {"ok": True}

        job = await a.start("profiles", work)
        store.fail_writes = True  # progress saves fail and are retried at the next tick
        await asyncio.sleep(0.1)
        store.fail_writes = False
        release.set()
        await until(lambda: _status_of(a, job.job_id, "succeeded"))

    asyncio.run(scenario())
