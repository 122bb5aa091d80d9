"""Related videos ("watch next"): a video's precomputed neighbours, read by key.

With a live training run, the video's list in the run's behaviour space (computed exactly at
training, training/neighbours.py): the videos co-watched with it. For a video the run does
not know (uploaded since), or before the first run, its content list (service/neighbours.py:
computed at upload, or now on first use). A viewer's watched and hidden videos are dropped
exactly, as in the feed; without a viewer, nothing is. When the lists are off
(FEED_NEIGHBOURS=0) one ANN query in the content space answers instead.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from killrvideo_reco.domain.behaviour import behaviour_space
from killrvideo_reco.domain.models import VideoFacts, VideoSummary
from killrvideo_reco.service.neighbours import ContentNeighbours
from killrvideo_reco.service.ports import (
    NO_RUN,
    ActiveRun,
    VideoRepository,
    ViewerRepository,
)

OVERFETCH = 3  # ANN rows per item wanted, without lists: room for what the viewer saw
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
                 lists: ContentNeighbours | None = None, runs: ActiveRun | None = None):
        self.videos, self.viewers, self.lists = videos, viewers, lists
        self.runs = runs or NO_RUN

    async def related(self, video_id: uuid.UUID, limit: int,
                      viewer: uuid.UUID | None = None) -> list[RelatedVideo]:
        """UnknownVideo when there is no such video (or it has no embedding yet)."""
        facts = await self.videos.facts(video_id)
        if facts is None or facts.content_features is None:
            raise UnknownVideo(f"no video {video_id}")
        space, found = await self._neighbours(facts, limit)
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

    async def _neighbours(self, facts: VideoFacts,
                          limit: int) -> tuple[Space, list[tuple[uuid.UUID, float]]]:
        assert facts.content_features is not None
        video_id = facts.video_id
        if self.lists is not None and self.lists.size > 0:
            run = await self.runs.get()
            if run is not None:
                stored = await self.lists.store.neighbour_lists([video_id],
                                                                behaviour_space(run.slot))
                mine = stored.get(video_id)
                if mine is not None and mine.version == run.run_id and mine.video_ids:
                    return "behaviour", list(zip(mine.video_ids, mine.similarities.tolist()))
            if facts.embedding_model is not None:
                lists = await self.lists.lists_of([(video_id, facts.content_features)],
                                                  facts.embedding_model)
                return "content", list(zip(lists[video_id].video_ids,
                                           lists[video_id].similarities.tolist()))
        nearest = await self.videos.nearest(facts.content_features,
                                            min(MAX_ROWS, OVERFETCH * limit + 1))
        return "content", [(c.summary.video_id, c.score) for c in nearest]
