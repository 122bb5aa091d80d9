from __future__ import annotations

import io
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from killrvideo_reco.api.deps import CurrentSettings, Jobs, Moderator, Resources
from killrvideo_reco.api.openapi import AUTHENTICATED, problems
from killrvideo_reco.api.problems import Problem
from killrvideo_reco.api.routes import API_PREFIX
from killrvideo_reco.api.schemas import JobOut
from killrvideo_reco.jobs.profiles import rebuild_profiles
from killrvideo_reco.jobs.train import run_training
from killrvideo_reco.service.job_registry import JobAlreadyRunning, JobRegistry

router = APIRouter(prefix=f"{API_PREFIX}/admin/jobs", tags=["admin"])


@router.post("/profiles", response_model=JobOut, response_model_by_alias=True,
             status_code=status.HTTP_202_ACCEPTED,
             summary="Rebuild every viewer's taste profile in the background (moderator)",
             responses=problems(*AUTHENTICATED, 409))
async def start_profiles_job(response: Response, moderator: Moderator, resources: Resources,
                             jobs: Jobs) -> JobOut:
    async def work(on_progress, cursor):
        # The bar goes to a buffer: progress is reported through the job's status.
        return await rebuild_profiles(resources.videos, resources.viewers, resources.activity,
                                      on_progress=on_progress, progress_stream=io.StringIO(),
                                      resume_from=cursor)

    return await _start(jobs, response, "profiles", work, resumable=True)


@router.post("/train", response_model=JobOut, response_model_by_alias=True,
             status_code=status.HTTP_202_ACCEPTED,
             summary="Train the behaviour space and switch the feed to it (moderator)",
             responses=problems(*AUTHENTICATED, 409))
async def start_training_job(response: Response, moderator: Moderator, resources: Resources,
                             settings: CurrentSettings, jobs: Jobs) -> JobOut:
    async def work(on_progress, cursor):
        return await run_training(resources, settings, on_progress=on_progress,
                                  progress_stream=io.StringIO())

    # A training run holds its history in memory: an interrupted one starts again.
    return await _start(jobs, response, "train", work, resumable=False)


async def _start(jobs: JobRegistry, response: Response, kind: str, work,
                 resumable: bool) -> JobOut:
    try:
        job = await jobs.start(kind, work, resumable=resumable)
    except JobAlreadyRunning as error:
        raise Problem(409, str(error), jobId=str(error.job.job_id)) from error
    response.headers["Location"] = f"{API_PREFIX}/admin/jobs/{job.job_id}"
    return JobOut.of(job)


# The uuid convertor keeps /profiles and /train from matching here: other methods on them
# get 405, not a 422 about a malformed job id.
@router.get("/{jobId:uuid}", response_model=JobOut, response_model_by_alias=True,
            summary="Status and progress of a background job (moderator)",
            responses=problems(401, 403, 404, 422, 503))
async def job_status(moderator: Moderator, jobs: Jobs,
                     job_id: Annotated[uuid.UUID, Path(alias="jobId")]) -> JobOut:
    job = await jobs.get(job_id)
    if job is None:
        raise Problem(404, f"No job {job_id} (job records are kept for 30 days).")
    return JobOut.of(job)
