"""The closed loop's admin reads: daily online metrics of what was recommended."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from killrvideo_reco.api.deps import CurrentSettings, Moderator, Resources, within_deadline
from killrvideo_reco.api.openapi import AUTHENTICATED, problems
from killrvideo_reco.api.problems import Problem
from killrvideo_reco.api.routes import API_PREFIX
from killrvideo_reco.api.schemas_online import DailyMetricsOut, RecommendationMetricsOut

router = APIRouter(prefix=f"{API_PREFIX}/admin/metrics", tags=["admin"])
# One read per day (over its counter shards): a range is bounded like a page size.
MAX_DAYS = 92


@router.get("/recommendations", response_model=RecommendationMetricsOut,
            response_model_by_alias=True,
            summary="Daily online metrics per source and variant (moderator)",
            responses=problems(*AUTHENTICATED, 422))
async def recommendation_metrics(
    moderator: Moderator, resources: Resources, settings: CurrentSettings,
    from_day: Annotated[date, Query(alias="from", description="First UTC day, YYYY-MM-DD.")],
    to_day: Annotated[date | None, Query(alias="to", description="Last UTC day, included; "
                                                                 "default: `from`.")] = None,
) -> RecommendationMetricsOut:
    last = to_day or from_day
    if from_day > last:
        raise Problem(422, f"`from` ({from_day}) is after `to` ({last}).",
                      errors=[{"field": "query.from", "message": "must not be after `to`"}])
    span = (last - from_day).days + 1
    if span > MAX_DAYS:
        raise Problem(422, f"{span} days asked; at most {MAX_DAYS} at a time.",
                      errors=[{"field": "query.to",
                               "message": f"at most {MAX_DAYS - 1} days after `from`"}])
    days = [from_day + timedelta(days=n) for n in range(span)]
    found = await within_deadline(resources.impressions.daily_metrics(days), settings)
    return RecommendationMetricsOut.model_validate(
        {"from": from_day, "to": last, "days": [DailyMetricsOut.of(m) for m in found]})
