"""Operator jobs (`make profiles`, `make train`) under the same cluster-wide lease as the
HTTP jobs: a command-line run and a replica's job of one kind never overlap, the run is
recorded where `GET /api/v1/admin/jobs/{id}` reads it, and an interrupted run of a
resumable kind is continued by the next one, from either side."""
from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable

from killrvideo_reco.bootstrap import AppResources, job_policy
from killrvideo_reco.domain.jobs import Job
from killrvideo_reco.service.job_registry import JobAlreadyRunning, JobRegistry, Work, process_owner
from killrvideo_reco.settings import Settings

log = logging.getLogger(__name__)


async def run_leased(resources: AppResources, settings: Settings, kind: str, work: Work,
                     resumable: bool) -> Job | None:
    """Run `work` as a job of `kind` in this process and wait for its end. None (and a
    message) when a job of that kind already runs somewhere."""
    registry = JobRegistry(resources.jobs, job_policy(settings), owner=f"cli:{process_owner()}")
    try:
        job = await registry.start(kind, work, resumable=resumable)
    except JobAlreadyRunning as error:
        print(f"{kind}: a {kind} job is already running: {error.job.job_id} (owner "
              f"{error.job.owner}). Wait for it to end; if its process is gone, its lease "
              f"lapses within {settings.job_lease_ttl_s}s (JOB_LEASE_TTL_S).", file=sys.stderr)
        return None
    if job.resumed_from:
        log.info("%s job %s continues interrupted job %s", kind, job.job_id, job.resumed_from)
    log.info("%s job %s started", kind, job.job_id)
    try:
        return await registry.wait(job.job_id)
    except asyncio.CancelledError:  # Ctrl-C: record `interrupted` with the cursor, free the lease
        await registry.shutdown()
        raise


def run_from_cli(settings: Settings, kind: str, work_for: Callable[[AppResources], Work],
                 resumable: bool, after_interrupt: str) -> tuple[int, Job | None]:
    """A command's whole run: connect, run `work_for(resources)` as a leased job, close.
    Returns the exit code and the ended job (None if it did not run or was interrupted);
    the caller prints a succeeded job's result."""
    from killrvideo_reco.bootstrap import build_resources
    from killrvideo_reco.embeddings.factory import build_provider

    resources = build_resources(settings, build_provider(settings))
    try:
        job = asyncio.run(run_leased(resources, settings, kind, work_for(resources), resumable))
    except KeyboardInterrupt:
        print(f"{kind}: interrupted; {after_interrupt}", file=sys.stderr)
        return 130, None
    finally:
        resources.close()
    if job is None:
        return 1, None
    if job.status != "succeeded":
        print(f"{kind}: job {job.job_id} {job.status}: {job.error}", file=sys.stderr)
        return 1, job
    return 0, job
