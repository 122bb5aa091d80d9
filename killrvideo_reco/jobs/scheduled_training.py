"""TRAIN_SCHEDULE: each replica checks, about once a minute, whether the current slot
has seen a training job start; if not, it starts one through the job registry. The
cluster-wide lease lets one replica win (the others get JobAlreadyRunning and see the
job in the next check), so a slot trains once, with whichever engine is configured."""
from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable
from datetime import datetime, timezone

from killrvideo_reco.bootstrap import AppResources
from killrvideo_reco.domain.schedule import is_due, next_slot, parse_schedule
from killrvideo_reco.jobs.train import run_training
from killrvideo_reco.service.job_registry import JobAlreadyRunning, JobRegistry
from killrvideo_reco.settings import Settings

log = logging.getLogger(__name__)
CHECK_EVERY_S = 60.0


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


async def start_if_due(resources: AppResources, settings: Settings, registry: JobRegistry,
                       interval_s: float, now: datetime) -> bool:
    """One check: True if this replica started the slot's training job."""
    latest_id = await resources.jobs.latest("train")
    latest = await resources.jobs.get(latest_id) if latest_id else None
    if not is_due(now, interval_s, latest.started_at if latest else None):
        return False

    async def work(on_progress, cursor):
        return await run_training(resources, settings, on_progress=on_progress,
                                  progress_stream=io.StringIO())

    try:
        job = await registry.start("train", work, resumable=False)
    except JobAlreadyRunning:
        return False  # another replica (or an operator) is training: this slot is covered
    log.info("scheduled training (%s, engine %s): job %s; next slot %s",
             settings.train_schedule, settings.train_engine, job.job_id,
             next_slot(now, interval_s).isoformat())
    return True


async def run_schedule(resources: AppResources, settings: Settings, registry: JobRegistry,
                       clock: Callable[[], datetime] = utc_now,
                       check_every_s: float = CHECK_EVERY_S) -> None:
    """Until cancelled (the app's shutdown)."""
    interval_s = parse_schedule(settings.train_schedule)
    if interval_s is None:
        return
    while True:
        try:
            await start_if_due(resources, settings, registry, interval_s, clock())
        except Exception as error:  # noqa: BLE001 - Cassandra hiccup: the next check retries
            log.warning("scheduled training check failed (%s); retrying", error)
        await asyncio.sleep(min(check_every_s, interval_s))
