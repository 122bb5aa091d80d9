"""Moderator-only reads behind the operator console (/console): a viewer's feed as they
get it with its ranking features, their interests and history; training runs; jobs."""
from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query

from killrvideo_reco.api.deps import (
    CurrentSettings,
    Jobs,
    Moderator,
    PageNumber,
    PageSize,
    Resources,
    within_deadline,
)
from killrvideo_reco.api.openapi import AUTHENTICATED, problems
from killrvideo_reco.api.operator_schemas import (
    ExplainedFeedOut,
    InterestOut,
    InterestsOut,
    JobsOut,
    RunOut,
    RunsOut,
)
from killrvideo_reco.api.problems import Problem
from killrvideo_reco.api.routes import API_PREFIX
from killrvideo_reco.api.schemas import HistoryPageOut, JobOut

router = APIRouter(prefix=f"{API_PREFIX}/admin", tags=["admin"])
UserIdPath = Annotated[uuid.UUID, Path(alias="userId", description="The viewer's user UUID")]
JOB_KINDS = ("train", "profiles", "recount", "reembed")


@router.get("/viewers/{userId}/foryou", response_model=ExplainedFeedOut,
            response_model_by_alias=True,
            summary="A viewer's For You page as they get it, with ranking features (moderator)",
            responses=problems(*AUTHENTICATED, 422))
async def viewer_feed(user_id: UserIdPath, moderator: Moderator, resources: Resources,
                      settings: CurrentSettings, page: PageNumber = 1,
                      page_size: PageSize = 10) -> ExplainedFeedOut:
    found = await within_deadline(resources.feed.for_you(user_id, page, page_size), settings)
    return ExplainedFeedOut.of(user_id, found)


@router.get("/viewers/{userId}/history", response_model=HistoryPageOut,
            response_model_by_alias=True,
            summary="A viewer's history (watched and hidden), most recent first (moderator)",
            responses=problems(*AUTHENTICATED, 422))
async def viewer_history(user_id: UserIdPath, moderator: Moderator, resources: Resources,
                         settings: CurrentSettings, page: PageNumber = 1,
                         page_size: PageSize = 10) -> HistoryPageOut:
    found = await within_deadline(resources.privacy.history_page(user_id, page, page_size),
                                  settings)
    return HistoryPageOut.of(found)


@router.get("/viewers/{userId}/interests", response_model=InterestsOut,
            response_model_by_alias=True,
            summary="A viewer's interests, most important first (moderator)",
            responses=problems(*AUTHENTICATED, 422))
async def viewer_interests(user_id: UserIdPath, moderator: Moderator, resources: Resources,
                           settings: CurrentSettings) -> InterestsOut:
    async def read():
        profile = await resources.viewers.profile(user_id)
        interests = profile.references.interests if profile is not None else ()
        titles = await resources.videos.summaries([i.medoid_id for i in interests])
        return [InterestOut(video_id=i.medoid_id, importance=i.importance, count=i.count,
                            title=titles[i.medoid_id].title if i.medoid_id in titles else None)
                for i in interests]

    return InterestsOut(user_id=user_id, items=await within_deadline(read(), settings))


@router.get("/runs", response_model=RunsOut, response_model_by_alias=True,
            summary="Training runs, newest first, with hold-out quality (moderator)",
            responses=problems(*AUTHENTICATED, 422))
async def training_runs(moderator: Moderator, resources: Resources, settings: CurrentSettings,
                        limit: Annotated[int, Query(ge=1, le=200,
                                                    description="Runs wanted")] = 50) -> RunsOut:
    store = resources.training
    if store is None:
        raise Problem(503, "This deployment has no behaviour store.",
                      headers={"Retry-After": "10"})
    runs, live = await within_deadline(
        asyncio.gather(store.list_runs(limit), store.active_run()), settings)
    live_id = live.run_id if live is not None else None
    return RunsOut(live_run_id=live_id, items=[RunOut.of(r, live_id) for r in runs])


@router.get("/jobs", response_model=JobsOut, response_model_by_alias=True,
            summary="The latest job of each kind, running or finished (moderator)",
            responses=problems(*AUTHENTICATED))
async def recent_jobs(moderator: Moderator, jobs: Jobs, settings: CurrentSettings) -> JobsOut:
    found = await within_deadline(jobs.latest(JOB_KINDS), settings)
    return JobsOut(items=[JobOut.of(job) for job in found])
