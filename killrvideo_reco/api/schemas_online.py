"""Response bodies of the closed loop's admin endpoints (online metrics, experiments)."""
from __future__ import annotations

from datetime import date

from pydantic import Field

from killrvideo_reco.api.schemas import ApiModel
from killrvideo_reco.domain.online_metrics import DailyMetrics


class DailyMetricsOut(ApiModel):
    day: date
    source: str = Field(description="personalized, trending, latest (feed pages) or related.")
    variant: str = Field(description="The experiment variant served, or `default`.")
    pages: int
    impressions: int = Field(description="Items shown.")
    attributed_views: int = Field(description="Views attributed to these impressions (clicks).")
    ctr: float | None = Field(description="attributedViews / impressions.")
    ctr_at_position: list[float | None] = Field(
        description="CTR at positions 1 to 10 (null where nothing was shown there).")
    watch_seconds: int
    watch_seconds_per_impression: float | None
    mean_completion: float | None = Field(
        description="Mean share of the video played in attributed views of known length.")
    completed_share: float | None = Field(
        description="Share of attributed views that played at least 90% of the video.")

    @classmethod
    def of(cls, m: DailyMetrics) -> "DailyMetricsOut":
        return cls(day=m.day, source=m.source, variant=m.variant, pages=m.pages,
                   impressions=m.impressions, attributed_views=m.clicks, ctr=m.ctr,
                   ctr_at_position=list(m.ctr_at_position), watch_seconds=m.watch_seconds,
                   watch_seconds_per_impression=m.watch_seconds_per_impression,
                   mean_completion=m.mean_completion, completed_share=m.completed_share)


class RecommendationMetricsOut(ApiModel):
    from_day: date = Field(alias="from")
    to_day: date = Field(alias="to")
    days: list[DailyMetricsOut] = Field(description="One entry per day, source and variant "
                                                    "with anything recorded.")
