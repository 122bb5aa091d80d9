"""Related videos ("watch next"): a video's precomputed neighbours, read by key.

With a live training run, the video's list in the run's behaviour space (computed exactly at
training, training/neighbours.py): the videos co-watched with it. For a video the run did
not fit from history (or uploaded since), before the first run, or when the viewer has seen
most of the list, its content list (service/neighbours.py: computed at upload, or now on
first use) answers or tops the answer up; each item says which. A viewer's watched and
hidden videos are dropped exactly, as in the feed; without a viewer, nothing is. When the lists are off
(FEED_NEIGHBOURS=0) one ANN query in the content space answers instead.

What does not depend on the viewer (the video's facts, its lists, the summaries) comes
through the process's caches (the lists' is shared with the feed, service/neighbour_cache.py):
a watch page asks for the same popular videos' neighbours over and over.
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
from killrvideo_reco.service.ttl_cache import CachedByKey
from killrvideo_reco.service.view_facts import ViewFacts

OVERFETCH = 3  # ANN rows per item wanted, without lists: room for what the viewer saw
MAX_ROWS = 1000  # Cassandra's ANN LIMIT cap

Space = Literal["behaviour", "content"]


@dataclass(frozen=True)
class RelatedVideo:
    summary: VideoSummary
    similarity: float
    space: Space
    reason: str


class RelatedVideos:
    def __init__(self, videos: VideoRepository, viewers: ViewerRepository,
                 lists: ContentNeighbours | None = None, runs: ActiveRun | None = None,
                 facts: ViewFacts | None = None,
                 summaries: CachedByKey[uuid.UUID, VideoSummary] | None = None):
        self.videos, self.viewers, self.lists = videos, viewers, lists
        self.runs = runs or NO_RUN
        self.facts = facts or ViewFacts(videos)
        self.summaries = summaries or CachedByKey(videos.summaries, None)

    async def related(self, video_id: uuid.UUID, limit: int,
                      viewer: uuid.UUID | None = None) -> list[RelatedVideo]:
        """UnknownVideo when there is no such video (or it has no embedding yet)."""
        facts = await self.facts.one(video_id)
        found = await self._fresh(await self._behaviour_list(facts), facts, viewer, limit)
        if len(found) < limit:  # no co-watching list, or too short once seen ones are out
            found += await self._fresh(await self._content_list(facts, limit), facts, viewer,
                                       limit - len(found), {v for v, _, _ in found})
        summaries = await self.summaries.get_many([v for v, _, _ in found])
        reasons = {"behaviour": f"Watched by people who watched {facts.title}",
                   "content": f"Similar to {facts.title}"}
        return [RelatedVideo(summaries[v], float(s), space, reasons[space])
                for v, s, space in found if v in summaries]

    async def _fresh(self, found: list[tuple[uuid.UUID, float, Space]], facts: VideoFacts,
                     viewer: uuid.UUID | None, limit: int,
                     taken: frozenset[uuid.UUID] | set[uuid.UUID] = frozenset()
                     ) -> list[tuple[uuid.UUID, float, Space]]:
        """The first `limit` that are not the video, taken already, or seen by the viewer."""
        found = [f for f in found if f[0] != facts.video_id and f[0] not in taken]
        if viewer is not None and found:
            seen = await self.viewers.seen_among(viewer, [v for v, _, _ in found])
            found = [f for f in found if f[0] not in seen]
        return found[:limit]

    async def _behaviour_list(self, facts: VideoFacts) -> list[tuple[uuid.UUID, float, Space]]:
        """The live run's list for the video: empty when it was not fitted from history."""
        if self.lists is None or self.lists.size == 0:
            return []
        run = await self.runs.get()
        if run is None:
            return []
        # A live run's lists were all written before it went live: "none" is final.
        mine = (await self.lists.cache.lists([facts.video_id], behaviour_space(run.slot),
                                             run.run_id, absent_final=True)).get(facts.video_id)
        if mine is None:
            return []
        return [(v, s, "behaviour") for v, s in zip(mine.video_ids, mine.similarities.tolist())]

    async def _content_list(self, facts: VideoFacts,
                            limit: int) -> list[tuple[uuid.UUID, float, Space]]:
        assert facts.content_features is not None
        if self.lists is not None and self.lists.size > 0 and facts.embedding_model is not None:
            lists = await self.lists.lists_of([(facts.video_id, facts.content_features)],
                                              facts.embedding_model)
            mine = lists[facts.video_id]
            return [(v, s, "content") for v, s in zip(mine.video_ids, mine.similarities.tolist())]
        nearest = await self.videos.nearest(facts.content_features,
                                            min(MAX_ROWS, OVERFETCH * limit + 1))
        return [(c.summary.video_id, c.score, "content") for c in nearest]
