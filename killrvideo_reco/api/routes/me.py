"""The signed-in viewer's own data: see it, erase it."""
from __future__ import annotations

from fastapi import APIRouter, Response, status

from killrvideo_reco.api.deps import CurrentSettings, PageNumber, PageSize, Resources, Viewer, within_deadline
from killrvideo_reco.api.openapi import AUTHENTICATED, problems
from killrvideo_reco.api.routes import API_PREFIX
from killrvideo_reco.api.schemas import HistoryPageOut

router = APIRouter(prefix=f"{API_PREFIX}/me", tags=["privacy"])


@router.get("/history", response_model=HistoryPageOut, response_model_by_alias=True,
            summary="Your watch history (watched and hidden videos), most recent first",
            responses=problems(*AUTHENTICATED, 422))
async def my_history(
    viewer: Viewer, resources: Resources, settings: CurrentSettings,
    page: PageNumber = 1,
    page_size: PageSize = 10,
) -> HistoryPageOut:
    found = await within_deadline(
        resources.privacy.history_page(viewer.user_id, page, page_size), settings)
    return HistoryPageOut.of(found)


@router.delete("/history", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               summary="Forget me: erase your history, hides and taste profile",
               description="Your feed starts over as for a new viewer. Aggregate view counts "
                           "(trending) are kept; they do not say who watched.",
               responses=problems(*AUTHENTICATED))
async def forget_my_history(viewer: Viewer, resources: Resources,
                            settings: CurrentSettings) -> Response:
    await within_deadline(resources.privacy.forget(viewer.user_id), settings)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
