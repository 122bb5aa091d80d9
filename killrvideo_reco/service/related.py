"""Related videos ("watch next"): a video's nearest neighbours, behaviour space first.

With a live training run and a vector for the video in it, the neighbours are the videos
co-watched with it (ANN over the run's behaviour slot, queried with the video's own
direction in it); otherwise, for untrained or new videos, the nearest in the content space. A
viewer's watched and hidden videos are dropped (exactly, as in the feed); without a
viewer, nothing is. One ANN query and one exclusion lookup per request: precomputed
neighbour lists (issue "The feed at the cost of one ANN query") are the next step.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from killrvideo_reco.domain.behaviour import query_vector, video_behaviour
from killrvideo_reco.domain.models import VideoSummary
from killrvideo_reco.service.ports import (
    NO_RUN,
    ActiveRun,
    BehaviourRepository,
    VideoRepository,
    ViewerRepository,
)

# Rows asked per item wanted: room for the video itself and what the viewer saw.
OVERFETCH = 3
MAX_ROWS = 1000  # Cassandra's ANN LIMIT cap

Space = Literal["behaviour", "content"]


class UnknownVideo(LookupError):
    pass


@dataclass(frozen=True)
class RelatedVideo:
    summary: VideoSummary
    similarity: float
    space: Space
    reason: str


class RelatedVideos:
    def __init__(self, videos: VideoRepository, viewers: ViewerRepository,
                 behaviour: BehaviourRepository | None = None, runs: ActiveRun | None = None):
        self.videos, self.viewers, self.behaviour = videos, viewers, behaviour
        self.runs = runs or NO_RUN

    async def related(self, video_id: uuid.UUID, limit: int,
                      viewer: uuid.UUID | None = None) -> list[RelatedVideo]:
        """UnknownVideo when there is no such video (or it has no embedding yet)."""
        facts = await self.videos.facts(video_id)
        if facts is None or facts.content_features is None:
            raise UnknownVideo(f"no video {video_id}")
        rows = min(MAX_ROWS, OVERFETCH * limit + 1)
        run = await self.runs.get()
        space: Space = "content"
        found: list[tuple[uuid.UUID, float]] = []
        raw = video_behaviour(facts.behaviour, run) if self.behaviour is not None else None
        # The video's direction as a viewer-style query (extra dimension 0): the index
        # ranks by inner product with it. Its own index vector would not do: the extra
        # dimension would make every item of a similar length look related.
        query = query_vector(raw) if raw is not None else None
        if run is not None and self.behaviour is not None and query is not None:
            candidates = await self.behaviour.nearest(run, "behaviour", query, None, rows)
            found = [(c.video_id, c.behaviour) for c in candidates]
            space = "behaviour"
        if not found:
            space = "content"
            nearest = await self.videos.nearest(facts.content_features, rows)
            found = [(c.summary.video_id, c.score) for c in nearest]
        found = [(v, s) for v, s in found if v != video_id]
        if viewer is not None and found:
            seen = await self.viewers.seen_among(viewer, [v for v, _ in found])
            found = [(v, s) for v, s in found if v not in seen]
        found = found[:limit]
        summaries = await self.videos.summaries([v for v, _ in found])
        reason = (f"Watched by people who watched {facts.title}" if space == "behaviour"
                  else f"Similar to {facts.title}")
        return [RelatedVideo(summaries[v], float(s), space, reason)
                for v, s in found if v in summaries]
