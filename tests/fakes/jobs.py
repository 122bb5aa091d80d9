"""In-memory JobRepository and MetadataRepository."""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timezone


class FakeJobStore:
    """Job records and leases as store/jobs.py keeps them: conditional status changes, and
    leases that lapse `ttl_s` after their last claim or renewal on a clock the test moves
    (`advance`). Several registries sharing one fake are several replicas."""

    def __init__(self):
        self.jobs: dict[uuid.UUID, object] = {}
        self.latest_by_kind: dict[str, uuid.UUID] = {}
        self.leases: dict[str, tuple[object, float]] = {}  # kind -> (lease, expires at)
        self.now = 0.0
        self.progress_writes = 0
        self.fail_writes = False  # every call raises, as with Cassandra away

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def _check(self) -> None:
        if self.fail_writes:
            raise ConnectionError("Cassandra unreachable (fake)")

    def _live_lease(self, kind):
        held = self.leases.get(kind)
        if held and held[1] > self.now:
            return held[0]
        self.leases.pop(kind, None)
        return None

    async def get(self, job_id):
        self._check()
        job = self.jobs.get(job_id)
        return replace(job, progress=dict(job.progress)) if job else None

    async def create(self, job):
        self._check()
        self.jobs[job.job_id] = replace(job)

    async def save_progress(self, job):
        self._check()
        self.progress_writes += 1
        stored = self.jobs[job.job_id]
        stored.progress, stored.cursor = dict(job.progress), job.cursor
        stored.heartbeat_at = job.heartbeat_at

    async def finish(self, job):
        self._check()
        if self.jobs[job.job_id].status != "running":
            return False
        self.jobs[job.job_id] = replace(job, progress=dict(job.progress))
        return True

    async def mark_interrupted(self, job_id, why):
        self._check()
        stored = self.jobs[job_id]
        if stored.status != "running":
            return False
        stored.status, stored.error = "interrupted", why
        stored.finished_at = datetime.now(timezone.utc)
        return True

    async def latest(self, kind):
        self._check()
        return self.latest_by_kind.get(kind)

    async def set_latest(self, kind, job_id):
        self._check()
        self.latest_by_kind[kind] = job_id

    async def claim_lease(self, lease, ttl_s):
        self._check()
        held = self._live_lease(lease.kind)
        if held is not None:
            return held
        self.leases[lease.kind] = (lease, self.now + ttl_s)
        return None

    async def renew_lease(self, lease, ttl_s):
        self._check()
        if self._live_lease(lease.kind) != lease:
            return False
        self.leases[lease.kind] = (lease, self.now + ttl_s)
        return True

    async def release_lease(self, lease):
        self._check()
        if self._live_lease(lease.kind) != lease:
            return False
        del self.leases[lease.kind]
        return True

    async def lease(self, kind):
        self._check()
        return self._live_lease(kind)


class FakeMetadataStore:
    def __init__(self, schema_version: int | None = None):
        self.values: dict[str, str] = {}
        self.version = schema_version

    async def get(self, name):
        return self.values.get(name)

    async def set(self, name, value):
        self.values[name] = value

    async def schema_version(self):
        return self.version
