"""HTTP request/response bodies (camelCase on the wire, as the spec shows)."""
from __future__ import annotations

import math
import uuid
from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictFloat,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel
from starlette.responses import Response

from killrvideo_reco.domain.models import FeedItem, FeedPage, VideoSummary


def _rfc3339(moment: datetime) -> str:
    # The driver hands back naive UTC: never let a time without a zone reach the wire.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


# An RFC 3339 timestamp in UTC with a "Z", e.g. 2025-10-15T09:00:00Z.
UtcDateTime = Annotated[
    datetime, PlainSerializer(_rfc3339, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2025-10-15T09:00:00Z"]})]


# Embeddings are small numbers; this bound keeps cosine arithmetic far from float32 overflow.
VECTOR_BOUND = 1e6


def _bounded(value: float) -> float:
    # NaN and infinities pass here: the vector check names them more helpfully.
    if math.isfinite(value) and abs(value) > VECTOR_BOUND:
        raise ValueError(f"each number must be between -{VECTOR_BOUND:g} and {VECTOR_BOUND:g}")
    return value


VectorItem = Annotated[StrictFloat, AfterValidator(_bounded), WithJsonSchema(
    {"type": "number", "minimum": -VECTOR_BOUND, "maximum": VECTOR_BOUND})]


def _rfc3339_only(value):
    # Pydantic would read a bare number as Unix time; the contract says an RFC 3339 string.
    if not isinstance(value, (str, datetime)):
        raise ValueError("must be an RFC 3339 date-time string, e.g. 2025-10-15T09:00:00Z")
    return value


def _json_number(value):
    # JSON Schema's integer includes 5.0, but neither "5" nor true.
    if isinstance(value, (str, bool)):
        raise ValueError("must be a JSON number")
    return value


# Values in the body are what the schema says: "5" (a string) is refused, not converted.
TimestampIn = Annotated[datetime, BeforeValidator(_rfc3339_only)]
# Constraints inside, the check outside: the schema then says exclusiveMinimum, not "gt".
DurationS = Annotated[Annotated[int, Field(gt=0, le=7 * 24 * 3600)],
                      BeforeValidator(_json_number)]


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class FieldError(BaseModel):
    field: str
    message: str


class ProblemOut(BaseModel):
    """RFC 9457 problem details, the body of every error (application/problem+json)."""
    model_config = ConfigDict(extra="allow", title="Problem")
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    requestId: str | None = Field(None, description="Also in the X-Request-ID header and "
                                                    "in the service's log lines.")
    errors: list[FieldError] | None = Field(None, description="Validation errors, per field.")


class BasedOnOut(ApiModel):
    video_id: uuid.UUID
    title: str


class VideoSummaryOut(ApiModel):
    video_id: uuid.UUID
    title: str
    thumbnail_url: str | None
    description: str | None
    tags: list[str]
    added_date: UtcDateTime | None
    user_id: uuid.UUID | None

    @classmethod
    def of(cls, summary: VideoSummary) -> "VideoSummaryOut":
        return cls(video_id=summary.video_id, title=summary.title,
                   thumbnail_url=summary.thumbnail_url, description=summary.description,
                   tags=list(summary.tags), added_date=summary.added_date,
                   user_id=summary.uploader_id)


class FeedItemOut(VideoSummaryOut):
    similarity: float | None = Field(None, description=(
        "Cosine to the viewer: the larger of the behaviour-space and content-space cosines "
        "(content only before the first training run). Items are ordered by the ranking "
        "and shaped for diversity, not by this value."))
    based_on: list[BasedOnOut] = Field(
        default_factory=list, description="Up to 3 of your watched videos it is closest to.")
    position: int = Field(description="1-based position in the whole list (page 2 of 10 "
                                      "starts at 11).")

    @classmethod
    def of_item(cls, item: FeedItem, position: int) -> "FeedItemOut":
        summary = item.summary
        return cls(video_id=summary.video_id, title=summary.title,
                   thumbnail_url=summary.thumbnail_url, description=summary.description,
                   tags=list(summary.tags), added_date=summary.added_date,
                   user_id=summary.uploader_id, similarity=item.similarity, position=position,
                   based_on=[BasedOnOut(video_id=b.video_id, title=b.title) for b in item.based_on])


class RelatedItemOut(VideoSummaryOut):
    similarity: float = Field(description="Cosine to the video in the space it was found in.")
    space: Literal["behaviour", "content"] = Field(description=(
        "behaviour: co-watched with the video (the live training run); content: similar "
        "title, description and tags (untrained or new videos)."))
    reason: str = Field(description="Why it is related, for display.")
    position: int = Field(description="1-based position in the whole list (page 2 of 10 "
                                      "starts at 11).")


class RelatedOut(ApiModel):
    video_id: uuid.UUID = Field(description="The video these are related to.")
    items: list[RelatedItemOut]
    recommendation_id: uuid.UUID = Field(description=(
        "This answer's id (a time UUID): send it with a view of one of its items "
        "(POST /api/v1/videos/{videoId}/views) to attribute the view to it."))


class FeedPageOut(ApiModel):
    items: list[FeedItemOut]
    total: int = Field(description="Recommendable videos within this request's search horizon "
                                   "(see docs/recommendations.md).")
    page: int
    page_size: int
    source: Literal["personalized", "trending", "latest"]
    recommendation_id: uuid.UUID = Field(description=(
        "This answer's id (a time UUID): send it with a view of one of its items "
        "(POST /api/v1/videos/{videoId}/views) to attribute the view to it."))

    @classmethod
    def of(cls, page: FeedPage, recommendation_id: uuid.UUID) -> "FeedPageOut":
        first = first_position(page)
        return cls(items=[FeedItemOut.of_item(i, first + n) for n, i in enumerate(page.items)],
                   total=page.total, page=page.page, page_size=page.page_size,
                   source=page.source, recommendation_id=recommendation_id)


def json_response(body: BaseModel) -> Response:
    """The body as the route's response_model would encode it (camelCase aliases)."""
    return Response(body.model_dump_json(by_alias=True), media_type="application/json")


def first_position(page: FeedPage) -> int:
    return (page.page - 1) * page.page_size + 1


class NewVideoIn(ApiModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    title: str = Field(min_length=1, max_length=500)
    description: str = Field("", max_length=10_000)
    tags: list[str] = Field(default_factory=list, max_length=50)
    thumbnail_url: str | None = Field(None, max_length=2000)
    category: str | None = Field(None, max_length=100)
    duration_s: DurationS | None = Field(None, description="Length in seconds, used for "
                                                           "completion.")
    content_features: list[VectorItem] | None = Field(
        None, description="Optional embedding of exactly VECTOR_DIMENSION finite numbers, not "
                          "all zero; computed from title, description and tags if absent.")


class VideoOut(VideoSummaryOut):
    category: str | None = None
    duration_s: int | None = None
    embedding_model: str | None = None


class ViewIn(ApiModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    event_id: str = Field(min_length=1, max_length=128,
                          description="Client-chosen id; a retried event is counted once.")
    seconds_watched: StrictFloat = Field(ge=0, le=7 * 24 * 3600)
    duration_s: StrictFloat | None = Field(None, gt=0, le=7 * 24 * 3600)
    watched_at: TimestampIn | None = Field(
        None, description="RFC 3339; default: now. More than VIEW_CLOCK_SKEW_S (300 s) in the "
        "future, or before VIEW_EARLIEST_WATCHED_AT (1980-01-01), gets 422.")
    recommendation_id: uuid.UUID | None = Field(
        None, description="The recommendationId of the feed page or related answer the video "
        "was chosen from, if any. Without it, a view of a video shown within "
        "ATTRIBUTION_WINDOW_H is attributed to the newest impression that showed it.")


class ViewOut(ApiModel):
    recorded: bool = Field(description="False when this event id was already counted.")
    play_count: int
    seconds_watched: float
    recommendation_id: uuid.UUID | None = Field(None, description=(
        "The impression this view was attributed to (a click on it); null when the video "
        "was not shown to the viewer within ATTRIBUTION_WINDOW_H, or the event is a retry."))


class HiddenOut(ApiModel):
    video_id: uuid.UUID
    hidden: bool
    changed: bool


class JobOut(ApiModel):
    job_id: uuid.UUID
    kind: str
    status: Literal["running", "succeeded", "failed", "interrupted"] = Field(
        description="`interrupted`: its process shut down or died; the next job of this "
                    "kind resumes it (`resumedFrom`) or starts again (`restartedFrom`).")
    started_at: UtcDateTime
    finished_at: UtcDateTime | None
    progress: dict
    result: dict | None
    error: str | None
    owner: str = Field(description="host:pid of the process that runs (ran) it; `cli:host:pid` "
                                   "for `make profiles` or `make train`.")
    heartbeat_at: UtcDateTime | None = Field(description="When its progress was last saved.")
    resume_cursor: dict | None = Field(
        description="Where a later job of this kind can resume (profiles: the finished "
                    "token ranges); kept by an interrupted job, cleared on success.")
    resumed_from: uuid.UUID | None = Field(
        description="The interrupted job whose finished work this one skips.")
    restarted_from: uuid.UUID | None = Field(
        description="An interrupted job this one reruns from scratch: its kind cannot "
                    "resume, or its cursor was older than JOB_RESUME_MAX_AGE_S.")

    @classmethod
    def of(cls, job) -> "JobOut":
        return cls(job_id=job.job_id, kind=job.kind, status=job.status, started_at=job.started_at,
                   finished_at=job.finished_at, progress=job.progress, result=job.result,
                   error=job.error, owner=job.owner, heartbeat_at=job.heartbeat_at,
                   resume_cursor=job.cursor, resumed_from=job.resumed_from,
                   restarted_from=job.restarted_from)


class HistoryItemOut(ApiModel):
    video_id: uuid.UUID
    title: str | None = Field(description="None when the video has since been deleted.")
    first_watched: UtcDateTime | None
    last_watched: UtcDateTime | None
    play_count: int = Field(description="0 for a video only hidden, never played.")
    seconds_watched: float
    duration_s: float | None
    hidden_at: UtcDateTime | None = Field(description="When you said 'not interested'.")


class HistoryPageOut(ApiModel):
    items: list[HistoryItemOut]
    total: int = Field(description="Videos in your history (watched or hidden).")
    page: int
    page_size: int

    @classmethod
    def of(cls, page) -> "HistoryPageOut":
        return cls(items=[HistoryItemOut(
            video_id=e.row.video_id, title=e.title, first_watched=e.row.first_watched,
            last_watched=e.row.last_watched, play_count=e.row.play_count,
            seconds_watched=e.row.seconds_watched, duration_s=e.row.duration_s,
            hidden_at=e.row.hidden_at) for e in page.entries],
            total=page.total, page=page.page, page_size=page.page_size)
