"""CQL for the job registry: job records, the per-kind lease and the newest job of a kind.

Status changes are lightweight transactions (`IF status = 'running'`), so a job that an
observer declared interrupted is never turned back into a success by a late owner, and the
lease is only ever written through Paxos. Reads go through the write profile (quorum), so a
replica reads what another one has just written."""
from __future__ import annotations

import json
import uuid
from functools import partial

from cassandra import ConsistencyLevel
from cassandra.cluster import Session

from killrvideo_reco.domain.jobs import Job, JobLease, utc_now
from killrvideo_reco.store.aio import execute
from killrvideo_reco.store.connection import WRITE_EXECUTION
from killrvideo_reco.store.connection import prepare as prepare_statement
from killrvideo_reco.store.rows import as_utc

JOB_COLUMNS = ("job_id, kind, status, started_at, finished_at, progress, result, error, owner, "
               "heartbeat_at, resume_cursor, resumed_from, restarted_from")


def _dump(value: dict | None) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def _load(text: str | None) -> dict | None:
    return None if text is None else json.loads(text)


class JobStore:
    def __init__(self, session: Session, keyspace: str):
        self.session = session
        ks, prepare = keyspace, partial(prepare_statement, session)
        self._get = prepare(f"SELECT {JOB_COLUMNS} FROM {ks}.jobs WHERE job_id = ?")
        self._create = prepare(
            f"INSERT INTO {ks}.jobs ({JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        self._progress = prepare(
            f"UPDATE {ks}.jobs SET progress = ?, resume_cursor = ?, heartbeat_at = ? "
            "WHERE job_id = ?")
        self._finish = prepare(
            f"UPDATE {ks}.jobs SET status = ?, finished_at = ?, progress = ?, result = ?, "
            "error = ?, resume_cursor = ?, heartbeat_at = ? WHERE job_id = ? IF status = 'running'")
        self._abandon = prepare(
            f"UPDATE {ks}.jobs SET status = 'interrupted', finished_at = ?, error = ? "
            "WHERE job_id = ? IF status = 'running'")
        self._latest = prepare(f"SELECT job_id FROM {ks}.latest_job_by_kind WHERE kind = ?")
        self._set_latest = prepare(
            f"INSERT INTO {ks}.latest_job_by_kind (kind, job_id) VALUES (?, ?)")
        self._claim = prepare(
            f"INSERT INTO {ks}.job_leases (kind, job_id, owner, renewed_at) VALUES (?, ?, ?, ?) "
            "IF NOT EXISTS USING TTL ?")
        self._renew = prepare(
            f"UPDATE {ks}.job_leases USING TTL ? SET job_id = ?, owner = ?, renewed_at = ? "
            "WHERE kind = ? IF owner = ? AND job_id = ?")
        self._release = prepare(
            f"DELETE FROM {ks}.job_leases WHERE kind = ? IF owner = ? AND job_id = ?")
        self._lease = prepare(f"SELECT kind, job_id, owner FROM {ks}.job_leases WHERE kind = ?")
        # A serial read sees every lease write that Paxos committed, even one still being
        # replicated: whoever declares a job interrupted must not read a stale "no lease".
        self._lease.consistency_level = ConsistencyLevel.LOCAL_SERIAL

    async def _write(self, statement, params) -> list:
        return await execute(self.session, statement, params, WRITE_EXECUTION)

    async def _applied(self, statement, params) -> bool:
        rows = await self._write(statement, params)
        return bool(rows and rows[0].applied)

    # --- job records ----------------------------------------------------------------

    async def get(self, job_id: uuid.UUID) -> Job | None:
        rows = await self._write(self._get, (job_id,))
        if not rows or rows[0].kind is None:  # absent, or expired but for late cells
            return None
        r = rows[0]
        return Job(r.job_id, r.kind, r.status, as_utc(r.started_at) or utc_now(),
                   as_utc(r.finished_at),
                   _load(r.progress) or {}, _load(r.result), r.error, r.owner or "",
                   as_utc(r.heartbeat_at), _load(r.resume_cursor), r.resumed_from,
                   r.restarted_from)

    async def create(self, job: Job) -> None:
        await self._write(self._create, (
            job.job_id, job.kind, job.status, job.started_at, job.finished_at,
            _dump(job.progress), _dump(job.result), job.error, job.owner, job.heartbeat_at,
            _dump(job.cursor), job.resumed_from, job.restarted_from))

    async def save_progress(self, job: Job) -> None:
        await self._write(self._progress, (_dump(job.progress), _dump(job.cursor),
                                           job.heartbeat_at, job.job_id))

    async def finish(self, job: Job) -> bool:
        """Record the owner's final state; False if the job had already stopped running
        (an observer declared it interrupted)."""
        return await self._applied(self._finish, (
            job.status, job.finished_at, _dump(job.progress), _dump(job.result), job.error,
            _dump(job.cursor), job.heartbeat_at, job.job_id))

    async def mark_interrupted(self, job_id: uuid.UUID, why: str) -> bool:
        """An observer's verdict on a running job whose owner lost its lease."""
        return await self._applied(self._abandon, (utc_now(), why, job_id))

    async def latest(self, kind: str) -> uuid.UUID | None:
        rows = await self._write(self._latest, (kind,))
        return rows[0].job_id if rows else None

    async def set_latest(self, kind: str, job_id: uuid.UUID) -> None:
        await self._write(self._set_latest, (kind, job_id))

    # --- leases ---------------------------------------------------------------------

    async def claim_lease(self, lease: JobLease, ttl_s: int) -> JobLease | None:
        """Take the kind's lease for `lease.job_id`. None when taken; otherwise the lease
        that holds the kind."""
        rows = await self._write(self._claim, (lease.kind, lease.job_id, lease.owner,
                                               utc_now(), ttl_s))
        row = rows[0]
        if row.applied:
            return None
        return JobLease(lease.kind, row.job_id, row.owner or "")

    async def renew_lease(self, lease: JobLease, ttl_s: int) -> bool:
        """Extend the lease; False when it lapsed (or another job holds the kind now)."""
        return await self._applied(self._renew, (ttl_s, lease.job_id, lease.owner, utc_now(),
                                                 lease.kind, lease.owner, lease.job_id))

    async def release_lease(self, lease: JobLease) -> bool:
        return await self._applied(self._release, (lease.kind, lease.owner, lease.job_id))

    async def lease(self, kind: str) -> JobLease | None:
        rows = await self._write(self._lease, (kind,))
        return JobLease(rows[0].kind, rows[0].job_id, rows[0].owner or "") if rows else None
