from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from killrvideo_reco import metrics
from killrvideo_reco.api.deps import (
    Creator,
    CurrentSettings,
    MaybeViewer,
    Resources,
    Viewer,
    within_deadline,
)
from killrvideo_reco.api.openapi import AUTHENTICATED, problems
from killrvideo_reco.api.problems import Problem
from killrvideo_reco.api.routes import API_PREFIX
from killrvideo_reco.api.schemas import (
    NewVideoIn,
    RelatedItemOut,
    RelatedOut,
    VideoOut,
    VideoSummaryOut,
    ViewIn,
    ViewOut,
)
from killrvideo_reco.domain.history import InvalidViewTime
from killrvideo_reco.domain.impressions import ViewWatch
from killrvideo_reco.domain.models import VideoDetails
from killrvideo_reco.domain.vectors import InvalidVector
from killrvideo_reco.embeddings.provider import EmbeddingError
from killrvideo_reco.service.activity import ContendedProfile, UnknownVideo

router = APIRouter(prefix=f"{API_PREFIX}/videos", tags=["videos"])
VideoIdPath = Annotated[uuid.UUID, Path(alias="videoId", description="The video's UUID")]


def _video_out(video: VideoDetails) -> VideoOut:
    s = video.summary
    return VideoOut(video_id=s.video_id, title=s.title, thumbnail_url=s.thumbnail_url,
                    description=s.description, tags=list(s.tags), added_date=s.added_date,
                    user_id=s.uploader_id, category=video.category, duration_s=video.duration_s,
                    embedding_model=video.embedding_model)


@router.post("", response_model=VideoOut, response_model_by_alias=True,
             status_code=status.HTTP_201_CREATED, summary="Add a video (creator role)",
             responses=problems(*AUTHENTICATED, 400, 422))
async def add_video(body: NewVideoIn, creator: Creator, resources: Resources,
                    settings: CurrentSettings) -> VideoOut:
    try:
        video = await within_deadline(resources.catalogue.add_video(
            creator.user_id, body.title, body.description, body.tags, body.thumbnail_url,
            body.category, body.duration_s, body.content_features), settings)
    except InvalidVector as error:
        raise Problem(422, str(error), title="Invalid content_features") from error
    except EmbeddingError as error:
        raise Problem(503, f"Could not compute the embedding: {error}",
                      headers={"Retry-After": "5"}) from error
    row = await within_deadline(resources.catalogue.get_video(video.video_id), settings)
    if row is None:  # written, but not yet readable at this consistency level
        raise Problem(503, "The video was added but cannot be read back yet; retry shortly.",
                      headers={"Retry-After": "1"})
    return _video_out(row)


@router.get("/{videoId}", response_model=VideoOut, response_model_by_alias=True,
            summary="One video", responses=problems(*AUTHENTICATED, 404, 422))
async def get_video(video_id: VideoIdPath, viewer: Viewer, resources: Resources,
                    settings: CurrentSettings) -> VideoOut:
    row = await within_deadline(resources.catalogue.get_video(video_id), settings)
    if row is None:
        raise Problem(404, f"No video {video_id}.")
    return _video_out(row)


@router.get("/{videoId}/related", response_model=RelatedOut, response_model_by_alias=True,
            summary="Videos related to this one (watch next); public, or for a viewer",
            responses=problems(401, 404, 422, 503))
async def related(video_id: VideoIdPath, resources: Resources, settings: CurrentSettings,
                  who: MaybeViewer,
                  limit: Annotated[int, Query(ge=1, le=50, description="Items wanted")] = 10,
                  page_size: Annotated[int | None, Query(
                      alias="pageSize", ge=1, le=50,
                      description="Same as `limit` (the KillrVideo frontend's name); wins "
                                  "when both are sent")] = None,
                  ) -> RelatedOut:
    """Co-watched videos (the live training run), or similar ones for untrained or new
    videos. With a bearer token, the viewer's watched and hidden videos are left out."""
    viewer = who.user_id if who is not None and who.has("viewer") else None
    limit = page_size if page_size is not None else limit
    try:
        found = await within_deadline(
            resources.related.related(video_id, limit, viewer), settings)
    except UnknownVideo as error:
        raise Problem(404, f"No video {video_id}.") from error
    recommendation_id = resources.impressions.served(
        viewer, "related", [r.summary.video_id for r in found], 1)
    return RelatedOut(video_id=video_id, recommendation_id=recommendation_id, items=[
        RelatedItemOut(**VideoSummaryOut.of(r.summary).model_dump(), similarity=r.similarity,
                       space=r.space, reason=r.reason, position=n)
        for n, r in enumerate(found, start=1)])


@router.post("/{videoId}/views", response_model=ViewOut, response_model_by_alias=True,
             summary="Record a playback event; updates history, counts and the taste profile",
             responses=problems(*AUTHENTICATED, 400, 404, 409, 422))
async def record_view(video_id: VideoIdPath, body: ViewIn, viewer: Viewer,
                      resources: Resources, settings: CurrentSettings) -> ViewOut:
    recording = resources.activity.record_view(
        viewer.user_id, video_id, body.event_id, body.seconds_watched, body.duration_s,
        body.watched_at)
    try:
        outcome, shown = await within_deadline(resources.impressions.with_attribution(
            viewer.user_id, video_id, body.recommendation_id, body.watched_at, recording),
            settings)
    except UnknownVideo as error:
        raise Problem(404, f"No video {video_id}.") from error
    except InvalidViewTime as error:
        raise Problem(422, str(error), title="Invalid watchedAt") from error
    except ContendedProfile as error:
        raise Problem(409, str(error), headers={"Retry-After": "1"}) from error
    metrics.VIEW_EVENTS.labels("duplicate" if outcome.duplicate else "recorded").inc()
    # A retried event (same eventId) was attributed the first time, if at all.
    clicked = shown if shown is not None and not outcome.duplicate else None
    if clicked is not None:
        resources.impressions.count_click(
            clicked, ViewWatch(body.seconds_watched, outcome.duration_s))
        await resources.experiments.count_click(viewer.user_id, body.seconds_watched)
    return ViewOut(recorded=not outcome.duplicate, play_count=outcome.play_count,
                   seconds_watched=outcome.seconds_watched,
                   recommendation_id=clicked.recommendation_id if clicked else None)
