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
DAY = r"^\d{4}-\d{2}-\d{2}$"


def _day(text: str, name: str) -> date:
    """A calendar day; the pattern lets through 2026-02-30, this does not."""
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise Problem(422, f"`{name}` is not a calendar day: {text!r}.",
                      errors=[{"field": f"query.{name}", "message": "not a YYYY-MM-DD day"}]
                      ) from error


@router.get("/recommendations", response_model=RecommendationMetricsOut,
            response_model_by_alias=True,
            summary="Daily online metrics per source and variant (moderator)",
            responses=problems(*AUTHENTICATED, 422))
async def recommendation_metrics(
    moderator: Moderator, resources: Resources, settings: CurrentSettings,
    from_text: Annotated[str, Query(alias="from", pattern=DAY, description="First UTC day, "
                                                                           "YYYY-MM-DD.")],
    to_text: Annotated[str | None, Query(alias="to", pattern=DAY, description=(
        "Last UTC day, YYYY-MM-DD, included; default: `from`."))] = None,
) -> RecommendationMetricsOut:
    from_day = _day(from_text, "from")
    last = _day(to_text, "to") if to_text is not None else from_day
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
