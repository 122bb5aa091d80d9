"""Everything the app holds open: built once in the lifespan, closed at shutdown.
If Cassandra is down at start-up, the app still starts and keeps trying to connect;
requests get 503 until it answers."""
from __future__ import annotations

import asyncio
import logging

from killrvideo_reco.auth import TokenVerifier
from killrvideo_reco.bootstrap import AppResources, build_resources, job_policy
from killrvideo_reco.embeddings.factory import build_provider
from killrvideo_reco.jobs.scheduled_training import run_schedule
from killrvideo_reco.service.job_registry import JobRegistry
from killrvideo_reco.settings import Settings

log = logging.getLogger(__name__)


class ResourceHolder:
    """Owns the resources, this process's jobs and the background (re)connect task."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.verifier = TokenVerifier(settings)
        self.embedder = build_provider(settings)
        self.resources: AppResources | None = None
        self.jobs: JobRegistry | None = None
        self.last_error: str | None = None
        self._task: asyncio.Task | None = None
        self._schedule: asyncio.Task | None = None  # TRAIN_SCHEDULE's checks

    async def start(self) -> None:
        if not await self._try_connect():
            self._task = asyncio.create_task(self._keep_trying())

    async def _try_connect(self) -> bool:
        try:
            self.resources = await asyncio.to_thread(build_resources, self.settings, self.embedder)
            self.jobs = JobRegistry(self.resources.jobs, job_policy(self.settings))
            self.last_error = None
            if self.settings.train_schedule:
                self._schedule = asyncio.create_task(
                    run_schedule(self.resources, self.settings, self.jobs))
            return True
        except Exception as error:  # noqa: BLE001 - reported by /readyz and retried
            self.last_error = f"{type(error).__name__}: {error}"
            log.warning("Cassandra not reachable yet (%s); retrying in the background",
                        self.last_error)
            return False

    async def _keep_trying(self) -> None:
        while not await self._try_connect():
            await asyncio.sleep(2)

    async def close(self) -> None:
        for task in (self._task, self._schedule):
            if task:
                task.cancel()
        if self.jobs:  # first: running jobs record where they stopped
            await self.jobs.shutdown()
        if self.resources:  # queued impression writes get the same grace
            await self.resources.impressions.close(self.settings.shutdown_grace_s)
        if self.resources:
            await asyncio.to_thread(self.resources.close)
