"""The closed loop's admin reads: daily online metrics of what was recommended, and
how often one video was shown, to how many viewers."""
from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Path, Query

from killrvideo_reco.api.deps import CurrentSettings, Moderator, Resources, within_deadline
from killrvideo_reco.api.openapi import AUTHENTICATED, problems
from killrvideo_reco.api.problems import Problem
from killrvideo_reco.api.routes import API_PREFIX
from killrvideo_reco.api.schemas_online import (
    DailyCoverageOut,
    DailyMetricsOut,
    RecommendationMetricsOut,
    VideoDayOut,
    VideoImpressionsOut,
)

router = APIRouter(prefix=f"{API_PREFIX}/admin", tags=["admin"])
# A video's days are one query over days x VIDEO_IMPRESSION_BUCKETS partitions.
MAX_VIDEO_DAYS = 31
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


@router.get("/metrics/recommendations", response_model=RecommendationMetricsOut,
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
    found, covered = await within_deadline(asyncio.gather(
        resources.impressions.daily_metrics(days), resources.impressions.coverage(days)),
        settings)
    return RecommendationMetricsOut.model_validate(
        {"from": from_day, "to": last, "days": [DailyMetricsOut.of(m) for m in found],
         "coverage": [DailyCoverageOut.of(c) for c in covered]})


@router.get("/videos/{videoId}/impressions", response_model=VideoImpressionsOut,
            response_model_by_alias=True,
            summary="How often a video was shown each day, to how many viewers (moderator)",
            responses=problems(*AUTHENTICATED, 404, 422))
async def video_impressions(
    moderator: Moderator, resources: Resources, settings: CurrentSettings,
    video_id: Annotated[uuid.UUID, Path(alias="videoId", description="The video's UUID")],
    days: Annotated[int, Query(ge=1, le=MAX_VIDEO_DAYS, description=(
        "UTC days back, today included; impressions older than IMPRESSION_TTL_DAYS have "
        "expired."))] = 7,
) -> VideoImpressionsOut:
    today = datetime.now(timezone.utc).date()
    asked = [today - timedelta(days=n) for n in range(days)]
    video, found = await within_deadline(asyncio.gather(
        resources.catalogue.get_video(video_id),
        resources.impressions.video_impressions(video_id, asked)), settings)
    if video is None:
        raise Problem(404, f"No video {video_id}.")
    return VideoImpressionsOut(video_id=video_id, impressions=sum(d.impressions for d in found),
                               days=[VideoDayOut.of(d) for d in found])
