"""Response bodies of the closed loop's admin endpoints (online metrics, experiments)."""
from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal, Union

from pydantic import ConfigDict, Field, StrictBool, StrictFloat, StrictInt
from pydantic.alias_generators import to_camel

from killrvideo_reco.api.schemas import ApiModel, UtcDateTime
from killrvideo_reco.domain.experiment_results import Results
from killrvideo_reco.domain.experiments import OVERRIDABLE, Experiment, Variant
from killrvideo_reco.domain.online_metrics import DailyMetrics
from killrvideo_reco.domain.reach import DailyCoverage, VideoDay


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
    new_viewer_pages: int = Field(description=(
        "Feed pages of this source served to new viewers (fewer than NEW_VIEWER_MAX_WATCHED "
        "positive videos in their taste profile)."))
    new_viewer_personalised_share: float | None = Field(description=(
        "Of this day's and variant's feed pages served to new viewers (all sources), the "
        "share that was personalised rather than the cold-start fallback; the same on each "
        "feed entry of the day and variant; null on related entries and when no new viewer "
        "got a feed page."))

    @classmethod
    def of(cls, m: DailyMetrics) -> "DailyMetricsOut":
        return cls(day=m.day, source=m.source, variant=m.variant, pages=m.pages,
                   impressions=m.impressions, attributed_views=m.clicks, ctr=m.ctr,
                   ctr_at_position=list(m.ctr_at_position), watch_seconds=m.watch_seconds,
                   watch_seconds_per_impression=m.watch_seconds_per_impression,
                   mean_completion=m.mean_completion, completed_share=m.completed_share,
                   new_viewer_pages=m.new_viewer_pages,
                   new_viewer_personalised_share=m.new_viewer_personalised_share)


class DailyCoverageOut(ApiModel):
    day: date
    distinct_videos_shown: int = Field(description=(
        "Distinct videos shown that day on feed pages and related answers to signed-in "
        "viewers, every source and variant together."))
    catalogue_size: int | None = Field(description=(
        "Videos in the catalogue now (counted at most once an hour), not on that day."))
    catalogue_coverage: float | None = Field(
        description="distinctVideosShown / catalogueSize; null for an empty catalogue.")

    @classmethod
    def of(cls, c: DailyCoverage) -> "DailyCoverageOut":
        return cls(day=c.day, distinct_videos_shown=c.distinct_videos_shown,
                   catalogue_size=c.catalogue_size, catalogue_coverage=c.coverage)


class RecommendationMetricsOut(ApiModel):
    from_day: date = Field(alias="from")
    to_day: date = Field(alias="to")
    days: list[DailyMetricsOut] = Field(description="One entry per day, source and variant "
                                                    "with anything recorded.")
    coverage: list[DailyCoverageOut] = Field(description="Catalogue coverage, one entry per "
                                                         "day asked, oldest first.")


class VideoDayOut(ApiModel):
    day: date
    impressions: int = Field(description="Times the video was shown that day.")
    viewers: int = Field(description="Distinct viewers it was shown to that day.")

    @classmethod
    def of(cls, d: VideoDay) -> "VideoDayOut":
        return cls(day=d.day, impressions=d.impressions, viewers=d.viewers)


class VideoImpressionsOut(ApiModel):
    video_id: uuid.UUID
    impressions: int = Field(description="Times shown over the days asked.")
    days: list[VideoDayOut] = Field(description="One entry per UTC day asked, newest first "
                                                "(today included).")


OverrideValue = Union[StrictBool, Annotated[StrictInt, Field(ge=-1_000_000, le=1_000_000)],
                      Annotated[StrictFloat, Field(allow_inf_nan=False, ge=-1e6, le=1e6)],
                      Annotated[str, Field(max_length=200)]]


class VariantIn(ApiModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    name: str = Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$")
    percent: int = Field(ge=0, le=100, description="Share of viewers; all sum to 100.")
    overrides: dict[str, OverrideValue] = Field(
        default_factory=dict, max_length=20, description=(
            "Settings this variant serves with, by name: " + ", ".join(sorted(OVERRIDABLE))
            + "; or popularity: true (the popular list instead of the personalised feed); "
            "or trainingRun: a complete run's id. Values are checked as the settings are."))

    def variant(self) -> Variant:
        return Variant(self.name, self.percent, dict(self.overrides))


class ExperimentIn(ApiModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    variants: list[VariantIn] = Field(min_length=2, max_length=10, description=(
        "The first is the control."))


class ExperimentOut(ApiModel):
    experiment_id: uuid.UUID
    name: str
    status: Literal["draft", "running", "stopped"]
    variants: list[VariantIn]
    created_at: UtcDateTime
    started_at: UtcDateTime | None
    stopped_at: UtcDateTime | None

    @classmethod
    def of(cls, e: Experiment) -> "ExperimentOut":
        return cls(experiment_id=e.experiment_id, name=e.name, status=e.status,
                   variants=[VariantIn(name=v.name, percent=v.percent, overrides=v.overrides)
                             for v in e.variants],
                   created_at=e.created_at, started_at=e.started_at, stopped_at=e.stopped_at)


class IntervalOut(ApiModel):
    difference: float = Field(description="Variant minus control.")
    low: float = Field(description="95% confidence interval, over viewers.")
    high: float


class VariantResultOut(ApiModel):
    name: str
    percent: int
    viewers: int = Field(description="Viewers served at least one recorded page.")
    impressions: int
    attributed_views: int
    watch_seconds: int
    ctr: float | None
    watch_seconds_per_impression: float | None
    requests: int
    error_rate: float | None
    p99_ms: float | None = Field(description="Upper bound of the latency bucket holding p99.")
    ctr_vs_control: IntervalOut | None
    watch_seconds_per_impression_vs_control: IntervalOut | None
    guardrails: list[str] = Field(description="Error rate or p99 much worse than control's.")


class ExperimentResultsOut(ApiModel):
    experiment: ExperimentOut
    variants: list[VariantResultOut]
    srm_p_value: float | None = Field(description=(
        "Chi-square test of viewers per variant against the split."))
    sample_ratio_mismatch: bool = Field(description=(
        "True when srmPValue < 0.001: assignment or recording is broken; do not read the "
        "differences."))
    warnings: list[str]

    @classmethod
    def of(cls, e: Experiment, r: Results) -> "ExperimentResultsOut":
        def interval(i):
            return IntervalOut(difference=i.difference, low=i.low, high=i.high) if i else None
        return cls(experiment=ExperimentOut.of(e), srm_p_value=r.srm_p_value,
                   sample_ratio_mismatch=r.sample_ratio_mismatch, warnings=list(r.warnings),
                   variants=[VariantResultOut(
                       name=v.name, percent=v.percent, viewers=v.viewers,
                       impressions=v.impressions, attributed_views=v.clicks,
                       watch_seconds=v.watch_seconds, ctr=v.ctr,
                       watch_seconds_per_impression=v.watch_seconds_per_impression,
                       requests=v.requests, error_rate=v.error_rate,
                       p99_ms=v.p99_ms if v.p99_ms != float("inf") else None,
                       ctr_vs_control=interval(v.ctr_vs_control),
                       watch_seconds_per_impression_vs_control=interval(v.watch_vs_control),
                       guardrails=list(v.guardrails)) for v in r.variants])
