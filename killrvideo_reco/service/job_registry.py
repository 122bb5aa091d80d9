"""Background jobs (over HTTP, or `make profiles` / `make train`), shared by every
process through Cassandra.

A job first claims its kind's lease (one job of a kind at a time, cluster-wide), then runs
here while a keeper task saves its progress at most every JOB_PROGRESS_INTERVAL_S and
renews the lease. Any replica reads any job; a `running` job whose lease is gone (its
process died) is reported `interrupted`. At shutdown a running job stops, records
`interrupted` with its resume cursor and frees the lease; the next job of that kind
continues from the cursor (`resumed_from`) when the kind can resume and the cursor is
fresh, and otherwise starts from scratch (`restarted_from`)."""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from killrvideo_reco import metrics
from killrvideo_reco.domain.jobs import Job, JobLease, utc_now
from killrvideo_reco.retries import call, job_bookkeeping
from killrvideo_reco.service.ports import JobRepository

log = logging.getLogger(__name__)
LEASE_LAPSED = "interrupted: its process stopped renewing the job's lease (stopped or cut off)"
LEASE_LOST = "interrupted: this process lost the job's lease (Cassandra unreachable too long)"
SHUTDOWN = "interrupted: the process shut down; a new job of this kind resumes it"


class ProgressReport(Protocol):
    def snapshot(self) -> dict: ...


OnProgress = Callable[[ProgressReport], None]
# work(on_progress, cursor): cursor is the resume cursor of an interrupted job, or None.
Work = Callable[[OnProgress, dict | None], Coroutine[Any, Any, dict]]


@dataclass(frozen=True)
class JobPolicy:
    lease_ttl_s: int = 30
    progress_interval_s: float = 1.0
    resume_max_age_s: float = 86400.0
    shutdown_wait_s: float = 10.0


class JobAlreadyRunning(RuntimeError):
    def __init__(self, job: Job):
        super().__init__(f"a {job.kind} job is already running: {job.job_id}")
        self.job = job


@dataclass(eq=False)
class _Running:
    """A job this process runs."""
    job: Job
    lease: JobLease
    work_task: asyncio.Task
    task: asyncio.Task | None = None
    dirty: bool = True
    stop_reason: str | None = None


def process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JobRegistry:
    def __init__(self, store: JobRepository, policy: JobPolicy = JobPolicy(),
                 owner: str | None = None, clock: Callable[[], datetime] = utc_now):
        self._store, self._policy = store, policy
        self.owner = owner or process_owner()
        self._now = clock
        self._running: dict[uuid.UUID, _Running] = {}

    async def get(self, job_id: uuid.UUID) -> Job | None:
        if job_id in self._running:  # ours: fresher than the throttled record
            return self._running[job_id].job
        job = await self._store.get(job_id)
        if job is None or job.status != "running":
            return job
        lease = await self._store.lease(job.kind)
        if lease is not None and lease.job_id == job.job_id:
            return job
        # Conditional: an owner that has just finished keeps its own final status.
        await self._store.mark_interrupted(job.job_id, LEASE_LAPSED)
        return await self._store.get(job_id)

    async def latest(self, kinds: Sequence[str]) -> list[Job]:
        """The most recent job of each kind that has one (a running one, if any, is the
        most recent: only one of a kind runs at a time), newest first."""
        ids = await asyncio.gather(*(self._store.latest(kind) for kind in kinds))
        found = await asyncio.gather(*(self.get(job_id) for job_id in ids if job_id))
        return sorted((job for job in found if job is not None),
                      key=lambda job: job.started_at, reverse=True)

    async def start(self, kind: str, work: Work, resumable: bool = True) -> Job:
        """Start a job of `kind` unless one runs anywhere (JobAlreadyRunning). `resumable`:
        the work can continue from an interrupted job's cursor."""
        job = Job(uuid.uuid4(), kind, owner=self.owner, heartbeat_at=self._now())
        lease = JobLease(kind, job.job_id, self.owner)
        holder = await self._store.claim_lease(lease, self._policy.lease_ttl_s)
        if holder is not None:
            running = await self._store.get(holder.job_id)
            raise JobAlreadyRunning(running or Job(holder.job_id, kind, owner=holder.owner))
        try:
            await self._take_over(job, resumable)
            await self._store.create(job)
            await self._store.set_latest(kind, job.job_id)
        except BaseException:
            await asyncio.shield(self._release(lease))
            raise
        self._launch(job, lease, work)
        return job

    async def _take_over(self, job: Job, resumable: bool) -> None:
        """Settle the kind's previous job and decide where this one starts."""
        previous_id = await self._store.latest(job.kind)
        previous = await self._store.get(previous_id) if previous_id else None
        if previous is not None and previous.status == "running":
            # We hold the kind's lease, so its owner lost it: it died or was cut off.
            await self._store.mark_interrupted(previous.job_id, LEASE_LAPSED)
            previous = await self._store.get(previous.job_id)
        if previous is None or previous.status != "interrupted":
            return
        saved_at = previous.heartbeat_at or previous.started_at
        fresh = (previous.cursor is not None and
                 (self._now() - saved_at).total_seconds() <= self._policy.resume_max_age_s)
        if resumable and fresh:
            job.cursor, job.resumed_from = previous.cursor, previous.job_id
        else:
            job.restarted_from = previous.job_id

    def _launch(self, job: Job, lease: JobLease, work: Work) -> None:
        def on_progress(report: ProgressReport) -> None:
            # Memory only: the keeper task writes the latest snapshot, throttled.
            job.progress = report.snapshot()
            cursor = getattr(report, "cursor", None)
            if cursor is not None:
                job.cursor = cursor
            run.dirty = True
            metrics.job_progress(job.kind, job.progress)

        # The work task exists before start() returns, so shutdown can always stop it.
        resume = job.cursor if job.resumed_from else None
        run = _Running(job, lease, asyncio.create_task(work(on_progress, resume)))
        run.task = asyncio.create_task(self._run(run))
        self._running[job.job_id] = run

    async def _run(self, run: _Running) -> None:
        job = run.job
        keeper = asyncio.create_task(self._keep(run))
        try:
            job.result = await run.work_task
            job.status, job.cursor = "succeeded", None
        except asyncio.CancelledError:
            job.status, job.error = "interrupted", run.stop_reason or SHUTDOWN
        except Exception as error:  # noqa: BLE001 - reported through the job's status
            log.exception("%s job %s failed", job.kind, job.job_id)
            job.status, job.error = "failed", f"{type(error).__name__}: {error}"
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
            job.finished_at = job.heartbeat_at = self._now()
            await self._record_end(job)
            await self._release(run.lease)
            metrics.JOBS.labels(job.kind, job.status).inc()
            self._running.pop(job.job_id, None)

    async def _record_end(self, job: Job) -> None:
        try:
            applied = await call(job_bookkeeping(), lambda: self._store.finish(job))
        except Exception as error:  # noqa: BLE001 - the lease lapses and says interrupted
            log.warning("could not record the end of job %s (%s)", job.job_id, error)
            return
        if not applied:
            log.warning("%s job %s had already been declared interrupted", job.kind, job.job_id)

    async def _release(self, lease: JobLease) -> None:
        try:
            await self._store.release_lease(lease)
        except Exception as error:  # noqa: BLE001 - the lease's TTL frees the kind anyway
            log.warning("could not release the %s lease (%s); it lapses in %ds",
                        lease.kind, error, self._policy.lease_ttl_s)

    async def _keep(self, run: _Running) -> None:
        """Save progress when it changed and renew the lease, until cancelled."""
        renew_every = self._policy.lease_ttl_s / 3
        tick = min(self._policy.progress_interval_s, renew_every)
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(tick)
            try:
                renew_due = time.monotonic() - renewed >= renew_every
                if run.dirty or renew_due:
                    run.dirty = False
                    run.job.heartbeat_at = self._now()
                    await self._store.save_progress(run.job)
                if renew_due:
                    if not await self._store.renew_lease(run.lease, self._policy.lease_ttl_s):
                        run.stop_reason = LEASE_LOST
                        run.work_task.cancel()
                        return
                    renewed = time.monotonic()
            except Exception as error:  # noqa: BLE001 - transient: retried next tick
                log.warning("job %s: could not save progress or renew its lease (%s)",
                            run.job.job_id, error)

    async def wait(self, job_id: uuid.UUID) -> Job:
        """Until a job this process runs has ended; its final record."""
        run = self._running.get(job_id)
        if run is not None and run.task is not None:
            await asyncio.shield(run.task)  # a cancelled waiter leaves the job to shutdown()
            return run.job
        job = await self.get(job_id)
        if job is None:
            raise KeyError(job_id)
        return job

    async def shutdown(self) -> None:
        """Stop this process's jobs: each records `interrupted` with its cursor and frees
        its lease, within JobPolicy.shutdown_wait_s."""
        runs = list(self._running.values())
        for run in runs:
            run.stop_reason = SHUTDOWN
            run.work_task.cancel()
        tasks = [run.task for run in runs if run.task]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self._policy.shutdown_wait_s)
            for task in late:
                task.cancel()
