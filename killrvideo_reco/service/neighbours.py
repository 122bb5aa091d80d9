"""The interest source of the feed: each interest's candidates are its medoid's neighbour
list in the content space, read by key (video_neighbours), instead of one ANN query per
interest and request.

A list is computed with one ANN query when a video is uploaded, or the first time it is
asked for, and again when the catalogue's model changed or the list is older than its
maximum age (so videos uploaded since enter it). The candidates' features (behaviour and
content vectors, popularity, creator) are read by key too, and kept per run in a bounded
first-in-first-out cache: the videos near the viewers' interests are read once, not once
per request.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from killrvideo_reco.domain.feed_rules import source_depth
from killrvideo_reco.domain.interests import Interest
from killrvideo_reco.domain.models import BehaviourRun, NeighbourList
from killrvideo_reco.domain.ranking import FeedCandidate
from killrvideo_reco.metrics import FEATURE_CACHE, NEIGHBOUR_LISTS
from killrvideo_reco.service.neighbour_cache import NeighbourListCache
from killrvideo_reco.service.ports import (
    BehaviourRepository,
    NeighbourRepository,
    VideoRepository,
)

log = logging.getLogger(__name__)
CONTENT = "content"
FEATURES_HIT, FEATURES_MISS = FEATURE_CACHE.labels("hit"), FEATURE_CACHE.labels("miss")


@dataclass(frozen=True, slots=True)
class Features:
    behaviour: np.ndarray  # unit index vector in the run's space (zeros when none)
    # Unit content embedding in float16: the cache's largest part, halved. Its cosines
    # stay within about 1e-3 of float32's; every product with it is computed in float32.
    content: np.ndarray
    popularity: float
    uploader_id: uuid.UUID | None
    added_at: float | None


class ContentNeighbours:
    """Read-through neighbour lists in the content space."""

    def __init__(self, videos: VideoRepository, store: NeighbourRepository, size: int,
                 max_age_s: float, cache: NeighbourListCache | None = None):
        self.videos, self.store, self.size, self.max_age_s = videos, store, size, max_age_s
        self.cache = cache or NeighbourListCache(store, None)

    async def lists(self, medoids: Sequence[Interest],
                    model_id: str) -> dict[uuid.UUID, NeighbourList]:
        return await self.lists_of([(m.medoid_id, m.medoid) for m in medoids], model_id)

    async def lists_of(self, videos: Sequence[tuple[uuid.UUID, np.ndarray]],
                       model_id: str) -> dict[uuid.UUID, NeighbourList]:
        """(video id, its content vector) -> its list: stored, or computed now."""
        stored = await self.cache.lists([v for v, _ in videos], CONTENT, model_id)
        now = time.time()
        stale = [(v, vector) for v, vector in videos
                 if not usable_list(stored.get(v), model_id, now, self.max_age_s)]
        NEIGHBOUR_LISTS.labels("stored").inc(len(videos) - len(stale))
        NEIGHBOUR_LISTS.labels("computed").inc(len(stale))
        computed = await asyncio.gather(
            *(self.compute(v, vector, model_id) for v, vector in stale))
        return {**stored, **{v: found for (v, _), found in zip(stale, computed)}}

    async def compute(self, video_id: uuid.UUID, vector: np.ndarray,
                      model_id: str) -> NeighbourList:
        found = await self.videos.nearest(np.asarray(vector, dtype=np.float32), self.size + 1)
        kept = [c for c in found if c.summary.video_id != video_id][:self.size]
        neighbours = NeighbourList(model_id, time.time(),
                                   tuple(c.summary.video_id for c in kept),
                                   np.array([c.score for c in kept], dtype=np.float32))
        await self.store.write_neighbours(video_id, CONTENT, neighbours)
        self.cache.put(video_id, CONTENT, neighbours)
        return neighbours


def usable_list(found: NeighbourList | None, model_id: str, now: float,
                max_age_s: float) -> bool:
    """Whether a stored content list answers: of this model and young enough."""
    return (found is not None and found.version == model_id
            and now - found.computed_at <= max_age_s)


class CandidateFeatures:
    """Ranking features of videos by id, for the live run, from a bounded in-process
    cache. First in, first out, in an OrderedDict rather than cachetools: a page 1 looks
    up 300-500 videos, and a hit here is one lookup in C, where an LRU's Python-level
    bookkeeping cost about 6% of a recomputed page 1's app CPU."""

    def __init__(self, behaviour: BehaviourRepository, size: int):
        self.behaviour, self.size = behaviour, max(size, 1)
        self._run_id: str | None = None
        self._cache: OrderedDict[uuid.UUID, Features] = OrderedDict()

    async def features(self, run: BehaviourRun,
                       video_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Features]:
        if run.run_id != self._run_id:  # a new run: every vector changed
            self._run_id, self._cache = run.run_id, OrderedDict()
        cache = self._cache
        get = cache.get
        found = {v: f for v in video_ids if (f := get(v)) is not None}
        missing = [v for v in dict.fromkeys(video_ids) if v not in found]
        FEATURES_HIT.inc(len(found))
        if missing:
            FEATURES_MISS.inc(len(missing))
            pool = await self.behaviour.popular_pool(run, missing)
            if run.run_id != self._run_id:  # the run switched while this read ran
                cache = OrderedDict()
            content = pool.content.astype(np.float16)
            for n, video_id in enumerate(pool.video_ids):
                found[video_id] = cache[video_id] = Features(
                    pool.behaviour[n], content[n], float(pool.popularity[n]),
                    pool.uploader_ids[n] if pool.uploader_ids else None,
                    pool.added_at[n] if pool.added_at else None)
            while len(cache) > self.size:
                cache.popitem(last=False)
        return found


class InterestSource:
    """Candidates for each interest from its medoid's neighbour list."""

    def __init__(self, neighbours: ContentNeighbours, features: CandidateFeatures):
        self.neighbours, self.features = neighbours, features

    async def candidates(self, run: BehaviourRun, interests: Sequence[Interest],
                         rows: Sequence[int], model_id: str,
                         behaviour_query: np.ndarray | None,
                         content_query: np.ndarray) -> dict[str, list[FeedCandidate]]:
        """Per interest ("interest n"), the first `rows[n]` videos of its medoid's list."""
        lists = await self.neighbours.lists(interests, model_id)
        taken = {f"interest {n}": list(lists[i.medoid_id].video_ids[:rows[n]])
                 if i.medoid_id in lists else [] for n, i in enumerate(interests)}
        features = await self.features.features(
            run, [v for ids in taken.values() for v in ids])
        return {source: candidates_of(ids, features, behaviour_query, content_query, "interest")
                for source, ids in taken.items()}


def rows_for(share: int, content_total: int, watched_estimate: int, size: int) -> int:
    """An interest's rows: its share of the content rows, plus its share of what the
    viewer has probably seen among them already (at most as much again), within its list."""
    return source_depth(share, math.ceil(watched_estimate * share / max(content_total, 1)),
                        size)


def candidates_of(video_ids: Sequence[uuid.UUID], features: dict[uuid.UUID, Features],
                  behaviour_query: np.ndarray | None, content_query: np.ndarray | None,
                  source: str, just_watched: Sequence[tuple[float, uuid.UUID]] | None = None
                  ) -> list[FeedCandidate]:
    """Candidates of the videos with known features, in order, their cosines to the
    viewer's queries computed as one matrix product per space. `just_watched`, parallel
    to `video_ids`: each video's (similarity, cited video) for the just-watched feature."""
    rows = [(n, features[v]) for n, v in enumerate(video_ids) if v in features]
    if not rows:
        return []
    # np.array, not np.stack: one C pass over the rows instead of a view of each.
    b = (np.array([f.behaviour for _, f in rows]) @ behaviour_query).tolist() \
        if behaviour_query is not None else [0.0] * len(rows)
    c = (np.array([f.content for _, f in rows], dtype=np.float32) @ content_query).tolist() \
        if content_query is not None else [0.0] * len(rows)
    sources = frozenset((source,))
    out = []
    for k, (n, f) in enumerate(rows):
        similarity, cited = just_watched[n] if just_watched is not None else (0.0, None)
        out.append(FeedCandidate(video_ids[n], b[k], c[k], f.popularity, sources, f.content,
                                 f.uploader_id, f.added_at, similarity, cited))
    return out
