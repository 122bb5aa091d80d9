from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response

from killrvideo_reco import metrics
from killrvideo_reco.api.deps import CurrentSettings, PageNumber, PageSize, Resources, Viewer, within_deadline
from killrvideo_reco.api.openapi import AUTHENTICATED, problems
from killrvideo_reco.api.problems import Problem
from killrvideo_reco.api.routes import API_PREFIX
from killrvideo_reco.api.schemas import FeedPageOut, HiddenOut, json_response
from killrvideo_reco.service.activity import ContendedProfile, UnknownVideo

router = APIRouter(prefix=f"{API_PREFIX}/recommendations", tags=["recommendations"])


@router.get("/foryou", response_model=FeedPageOut, response_model_by_alias=True,
            summary="Personalised recommendations for the authenticated viewer",
            responses=problems(*AUTHENTICATED, 422))
async def for_you(
    viewer: Viewer, resources: Resources, settings: CurrentSettings,
    page: PageNumber = 1,
    page_size: PageSize = 10,
) -> Response:
    # The viewer's experiment variants (if any) choose the feed; the page is recorded.
    feed, recommendation_id = await within_deadline(
        resources.experiments.for_you(viewer.user_id, page, page_size), settings)
    metrics.FEED_RESPONSES.labels(feed.source).inc()
    # Validated once, as it is built: FastAPI would dump, validate and encode it again.
    return json_response(FeedPageOut.of(feed, recommendation_id))


async def _set_hidden(viewer, resources, settings, video_id: uuid.UUID, hidden: bool) -> HiddenOut:
    try:
        changed = await within_deadline(
            resources.activity.set_hidden(viewer.user_id, video_id, hidden), settings)
    except UnknownVideo as error:
        raise Problem(404, f"No video {video_id}.") from error
    except ContendedProfile as error:
        raise Problem(409, str(error), headers={"Retry-After": "1"}) from error
    return HiddenOut(video_id=video_id, hidden=hidden, changed=changed)


VideoIdPath = Annotated[uuid.UUID, Path(alias="videoId", description="The video's UUID")]


@router.post("/hidden/{videoId}", response_model=HiddenOut, response_model_by_alias=True,
             summary="Not interested: never recommend this video, and learn from it",
             responses=problems(*AUTHENTICATED, 404, 409, 422))
async def hide(viewer: Viewer, resources: Resources, settings: CurrentSettings,
               video_id: VideoIdPath) -> HiddenOut:
    return await _set_hidden(viewer, resources, settings, video_id, True)


@router.delete("/hidden/{videoId}", response_model=HiddenOut, response_model_by_alias=True,
               summary="Undo 'not interested'",
               responses=problems(*AUTHENTICATED, 404, 409, 422))
async def unhide(viewer: Viewer, resources: Resources, settings: CurrentSettings,
                 video_id: VideoIdPath) -> HiddenOut:
    return await _set_hidden(viewer, resources, settings, video_id, False)
