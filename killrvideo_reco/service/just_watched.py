"""The "just watched" source of the feed: item-to-item collaborative filtering.

The behaviour neighbour lists of the viewer's last few positive videos (computed at
training, training/neighbours.py), read by key in one query: the videos people watched
with what this viewer just watched. Each candidate's `just_watched` feature is its
similarity in the best of those lists, for every candidate of every source, as the ranker
was fitted (training/ranker.py); the source itself brings each list's first unseen rows,
and each of them cites the video whose list brought it ("because you watched X").
"""
from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from killrvideo_reco.domain.behaviour import behaviour_space
from killrvideo_reco.domain.feed_rules import source_depth
from killrvideo_reco.domain.models import BehaviourRun
from killrvideo_reco.domain.ranking import FeedCandidate
from killrvideo_reco.service.neighbour_cache import NeighbourListCache
from killrvideo_reco.service.neighbours import CandidateFeatures, candidates_of

SOURCE = "just watched"


@dataclass(frozen=True)
class JustWatched:
    candidates: list[FeedCandidate] = field(default_factory=list)
    # video -> (its best similarity over the lists, the recent video of that list)
    similarity: dict[uuid.UUID, tuple[float, uuid.UUID]] = field(default_factory=dict)

    def first_unseen(self, seen: set[uuid.UUID], rows: int) -> list[FeedCandidate]:
        """Each list's first `rows` candidates the viewer has not seen."""
        taken: dict[uuid.UUID | None, int] = {}
        kept = []
        for c in self.candidates:
            if c.video_id not in seen and taken.get(c.cited, 0) < rows:
                taken[c.cited] = taken.get(c.cited, 0) + 1
                kept.append(c)
        return kept


class JustWatchedSource:
    def __init__(self, lists: NeighbourListCache, features: CandidateFeatures,
                 videos: int, rows: int):
        self.lists, self.features, self.videos, self.rows = lists, features, videos, rows

    async def candidates(self, run: BehaviourRun, recent: Sequence[uuid.UUID], watched: int,
                         behaviour_query: np.ndarray | None,
                         content_query: np.ndarray | None) -> JustWatched:
        recent = list(dict.fromkeys(recent))[:self.videos]
        if not recent or self.rows <= 0:
            return JustWatched()
        # A live run's lists were all written before it went live: "none" is final.
        stored = await self.lists.lists(recent, behaviour_space(run.slot), run.run_id,
                                        absent_final=True)
        lists = [(v, stored[v]) for v in recent if v in stored]
        similarity: dict[uuid.UUID, tuple[float, uuid.UUID]] = {}
        for cited, found in lists:
            for video_id, score in zip(found.video_ids, found.similarities.tolist()):
                if video_id not in similarity or score > similarity[video_id][0]:
                    similarity[video_id] = (score, cited)
        # Rows read per list: enough for `rows` unseen ones after what a viewer of this
        # history has probably watched among them, within twice `rows`.
        depth = source_depth(self.rows, math.ceil(watched * self.rows / 50))
        taken = [(v, cited) for cited, found in lists for v in found.video_ids[:depth]]
        ids = [v for v, _ in taken]
        features = await self.features.features(run, ids)
        return JustWatched(candidates_of(
            ids, features, behaviour_query, content_query, SOURCE,
            [(similarity[v][0], cited) for v, cited in taken]), similarity)
