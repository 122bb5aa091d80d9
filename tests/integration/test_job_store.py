"""The job store's conditional writes on a real Cassandra: one lease per kind, renewed only
by its holder, gone when its TTL lapses; status changes only from `running`."""
from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from killrvideo_reco.domain.jobs import Job, JobLease
from killrvideo_reco.store.jobs import JobStore

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store(cassandra):
    settings, session = cassandra
    return JobStore(session, settings.cassandra_keyspace)


def test_one_lease_per_kind_renewed_by_its_holder_only(store):
    kind = f"k-{uuid.uuid4().hex[:6]}"
    mine, theirs = (JobLease(kind, uuid.uuid4(), f"host:{n}") for n in (1, 2))

    async def scenario():
        assert await store.claim_lease(mine, 30) is None
        assert await store.claim_lease(theirs, 30) == mine, "the holder is reported"
        assert await store.renew_lease(mine, 30)
        assert not await store.renew_lease(theirs, 30)
        assert not await store.release_lease(theirs)
        assert await store.lease(kind) == mine
        assert await store.release_lease(mine)
        assert await store.lease(kind) is None
        assert await store.claim_lease(theirs, 30) is None
        await store.release_lease(theirs)

    asyncio.run(scenario())


def test_a_lease_that_is_not_renewed_lapses(store):
    kind = f"k-{uuid.uuid4().hex[:6]}"
    dead, alive = (JobLease(kind, uuid.uuid4(), f"host:{n}") for n in (1, 2))
    assert asyncio.run(store.claim_lease(dead, 2)) is None
    assert asyncio.run(store.renew_lease(dead, 2)), "a renewal keeps every cell alive"
    time.sleep(2.5)
    assert asyncio.run(store.lease(kind)) is None
    assert not asyncio.run(store.renew_lease(dead, 2)), "a lapsed lease cannot be renewed"
    assert asyncio.run(store.claim_lease(alive, 2)) is None


def test_status_changes_only_from_running_and_records_round_trip(store):
    job = Job(uuid.uuid4(), "profiles", owner="host:1", progress={"done": 3, "total": 9},
              cursor={"key": "256:m", "done": [0, 1, 2]}, resumed_from=uuid.uuid4())

    async def scenario():
        await store.create(job)
        await store.set_latest("profiles-test", job.job_id)
        assert await store.latest("profiles-test") == job.job_id
        stored = await store.get(job.job_id)
        assert (stored.status, stored.cursor, stored.resumed_from) == (
            "running", job.cursor, job.resumed_from)
        assert stored.started_at.tzinfo is not None
        assert await store.mark_interrupted(job.job_id, "lease lapsed")
        job.status, job.result = "succeeded", {"users": 1}
        assert not await store.finish(job), "a late owner does not overwrite the verdict"
        final = await store.get(job.job_id)
        assert (final.status, final.error, final.result) == ("interrupted", "lease lapsed", None)
        assert final.progress == {"done": 3, "total": 9}
        assert await store.get(uuid.uuid4()) is None

    asyncio.run(scenario())
