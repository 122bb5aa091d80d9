"""Background jobs started over HTTP: ids, status and progress, kept in this process."""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal, Protocol

from killrvideo_reco import metrics

log = logging.getLogger(__name__)
JobStatus = Literal["running", "succeeded", "failed"]


class ProgressReport(Protocol):
    def snapshot(self) -> dict: ...


@dataclass
class Job:
    job_id: uuid.UUID
    kind: str
    status: JobStatus = "running"
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    finished_at: datetime | None = None
    progress: dict = field(default_factory=dict)
    result: dict | None = None
    error: str | None = None


class JobAlreadyRunning(RuntimeError):
    def __init__(self, job: Job):
        super().__init__(f"a {job.kind} job is already running: {job.job_id}")
        self.job = job


class JobRegistry:
    def __init__(self, keep: int = 100):
        self._jobs: dict[uuid.UUID, Job] = {}
        self._tasks: set[asyncio.Task] = set()
        self._keep = keep

    def get(self, job_id: uuid.UUID) -> Job | None:
        return self._jobs.get(job_id)

    def start(self, kind: str,
              work: Callable[[Callable[[ProgressReport], None]], Awaitable[dict]]) -> Job:
        running = next((j for j in self._jobs.values()
                        if j.kind == kind and j.status == "running"), None)
        if running:
            raise JobAlreadyRunning(running)
        job = Job(uuid.uuid4(), kind)
        self._jobs[job.job_id] = job
        while len(self._jobs) > self._keep:
            self._jobs.pop(next(iter(self._jobs)))

        def on_progress(progress: ProgressReport) -> None:
            job.progress = progress.snapshot()
            metrics.job_progress(kind, job.progress)

        async def run() -> None:
            try:
                job.result = await work(on_progress)
                job.status = "succeeded"
            except Exception as error:  # noqa: BLE001 - reported through the job's status
                log.exception("%s job %s failed", kind, job.job_id)
                job.status, job.error = "failed", f"{type(error).__name__}: {error}"
            finally:
                job.finished_at = datetime.now(timezone.utc)
                metrics.JOBS.labels(kind, job.status).inc()

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
