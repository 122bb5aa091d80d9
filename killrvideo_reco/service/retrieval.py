"""Stage one of the For You feed, retrieval: candidates from the behaviour space, the
content space (each interest's neighbour list, read by key; the preference vector's ANN
query for a viewer with no interest yet), the just-watched lists and the popular pool,
fetched concurrently, merged and excluded exactly. Ranking (domain/ranking.py) then
scores them and shaping (domain/shaping.py) orders them. Before the first training run
(models.UNTRAINED) the same stages run over the content space and the popular pool alone.

The search horizons depend only on the viewer (never on the page asked for), so every
page of one feed is cut from the same ranked list."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from cachetools import TTLCache

from killrvideo_reco.domain import interests as interest_clusters
from killrvideo_reco.domain import ranking
from killrvideo_reco.domain.feed_rules import source_depth, source_short
from killrvideo_reco.domain.interests import Interest
from killrvideo_reco.domain.models import BehaviourRun, CandidateSizes, PopularPool
from killrvideo_reco.domain.ranking import FeedCandidate, Ranked, embeddings_of
from killrvideo_reco.domain.viewer_nearest import NearestRules, ViewerNearest
from killrvideo_reco.metrics import ANN_WIDENINGS, count_candidates
from killrvideo_reco.service.just_watched import SOURCE as JUST_WATCHED
from killrvideo_reco.service.just_watched import JustWatched, JustWatchedSource
from killrvideo_reco.service.neighbours import (
    CandidateFeatures,
    InterestSource,
    candidates_of,
    rows_for,
)
from killrvideo_reco.service.ports import BehaviourRepository, ViewerRepository
from killrvideo_reco.service.viewer_nearest import BehaviourNearest, settle

MAX_ANN_LIMIT = 1000


@dataclass(frozen=True)
class CandidateLimits:
    """Serving's limits: the sizes training fits the ranking weights for, and the knobs
    of serving alone."""
    sizes: CandidateSizes
    content_floor: float
    pool_ttl_s: float = 30.0
    interest_similarity: float = 0.5
    nearest: NearestRules | None = None  # None: no kept nearest lists, an ANN query each time


class CandidateRetrieval:
    def __init__(self, behaviour: BehaviourRepository, viewers: ViewerRepository,
                 limits: CandidateLimits, interest_source: InterestSource | None = None,
                 just_watched: JustWatchedSource | None = None,
                 features: CandidateFeatures | None = None):
        """`features`: the replica's feature cache; with it an ANN query returns ids
        alone and the rows' features come from the cache, as the lists' do."""
        self.behaviour, self.viewers, self.limits = behaviour, viewers, limits
        self.interest_source, self.just_watched = interest_source, just_watched
        self.features = features
        # Kept lists hold ids alone: their features come from the feature cache.
        self.kept = BehaviourNearest(behaviour, viewers, limits.nearest) \
            if limits.nearest is not None and features is not None else None
        # One pool per (run, trending list); a new key replaces the old one.
        self._pools: TTLCache[tuple, PopularPool] = TTLCache(maxsize=1, ttl=limits.pool_ttl_s)

    async def ranked_unseen(self, user_id: uuid.UUID, run: BehaviourRun,
                            behaviour_query: np.ndarray | None, content_query: np.ndarray | None,
                            popular_ids: Sequence[uuid.UUID],
                            interests: Sequence[Interest] = (), model_id: str | None = None,
                            watched: int = 0,
                            recent: Sequence[uuid.UUID] = (),
                            kept: ViewerNearest | None = None,
                            version: int | None = None) -> list[Ranked]:
        """`watched`, an estimate of how many videos the viewer has seen, sizes each
        source up front, within twice what it should bring (feed_rules.source_depth), so
        that a heavy watcher's feed costs about what a moderate one's does; each source
        then ranks only its first `wanted` unseen rows, as training fitted the weights.
        `recent`: the viewer's recent positive videos, newest first, for the
        just-watched source. `kept`: the viewer's kept nearest list; a fresh one is kept
        with the read model of `version`."""
        # source -> (space, vector searched for or None for the space's own query, rows)
        searches: dict[str, tuple[str, np.ndarray | None, int]] = {}
        wanted: dict[str, int] = {}  # fresh rows each source should bring
        cap, sizes = MAX_ANN_LIMIT, self.limits.sizes
        path = "two_stage" if run.trained else "content_only"  # the metrics' label
        # Untrained, no behaviour source: the content space gets its rows too, so the
        # list is about as long before the first training run as after it.
        content_rows = sizes.content + (0 if run.trained else sizes.behaviour)
        if behaviour_query is not None:
            searches["behaviour"] = ("behaviour", None,
                                     source_depth(sizes.behaviour, watched, cap))
            wanted["behaviour"] = sizes.behaviour
        listed: Coroutine[Any, Any, dict[str, list[FeedCandidate]]] | None = None
        # Interests' lists are read by key, so with them even one interest replaces the
        # content ANN query: the request's one ANN query is then the behaviour one.
        lists = self.interest_source if model_id is not None else None
        if content_query is not None and len(interests) >= (1 if lists else 2):
            rows = interest_clusters.allocate(interests, content_rows)
            if lists is not None and model_id is not None:  # (narrows model_id's type)
                size = lists.neighbours.size
                listed = lists.candidates(
                    run, interests, [rows_for(r, content_rows, watched, size)
                                     for r in rows], model_id, behaviour_query, content_query)
            else:
                searches.update({f"interest {n}": ("content", i.medoid, min(
                    cap, rows_for(rows[n], content_rows, watched, cap)))
                    for n, i in enumerate(interests)})
            wanted.update({f"interest {n}": r for n, r in enumerate(rows)})
        elif content_query is not None:
            searches["content"] = ("content", None, source_depth(content_rows, watched, cap))
            wanted["content"] = content_rows
        popular = (
            self._popular(run, behaviour_query, content_query, tuple(popular_ids[:sizes.popular]))
            if popular_ids and sizes.popular else _nothing())
        co_watched = (self.just_watched.candidates(run, recent, watched, behaviour_query,
                                                   content_query)
                      if self.just_watched is not None and recent and run.trained
                      else _no_co_watched())
        # Sources read by key are asked once, alongside the first ANN queries.
        by_key = asyncio.gather(popular, listed or _no_lists(), co_watched)
        found: dict[str, list[FeedCandidate]] = {}
        just = JustWatched()
        seen: set[uuid.UUID] = set()
        checked: set[uuid.UUID] = set()
        pending = {source: limit for source, (_, _, limit) in searches.items()}
        served: dict[str, int] = {}  # rows a source's answer could hold, when not its limit
        writes: list[asyncio.Task] = []
        first = True
        try:
            while pending or first:
                nearest = asyncio.gather(*(
                    self._behaviour(user_id, run, behaviour_query, content_query, limit,
                                    wanted[source], kept, version, served, writes)
                    if source == "behaviour" and self.kept is not None else
                    self._nearest(run, *searches[source][:2], behaviour_query, content_query, limit)
                    for source, limit in pending.items()))
                if first:
                    (in_pool, in_lists, just), answers = await asyncio.gather(by_key, nearest)
                    if in_pool:
                        found["popular"] = in_pool
                    found.update(in_lists)
                    if just.candidates:
                        found[JUST_WATCHED] = just.candidates
                else:
                    answers = await nearest
                first = False
                found.update(zip(pending, answers))
                # One exclusion lookup for every source's new candidates.
                new = list({c.video_id for group in found.values() for c in group} - checked)
                seen |= await self.viewers.seen_among(user_id, new)
                checked.update(new)
                # Short of fresh rows still: twice as deep, up to the cap.
                pending = {space: min(cap, 2 * served.pop(space, limit))
                           for space, limit in pending.items()
                           if source_short(len(found[space]), _fresh(found[space], seen),
                                           served.get(space, limit), wanted[space], cap)}
                ANN_WIDENINGS.labels(path).inc(len(pending))
        finally:  # a kept list's write is never left behind
            await settle(writes)
        if JUST_WATCHED in found:
            found[JUST_WATCHED] = just.first_unseen(seen, sizes.just_watched_rows)
        merged: dict[uuid.UUID, FeedCandidate] = {}
        for source, group in found.items():
            fresh = [c for c in group if c.video_id not in seen]
            for c in fresh[:wanted.get(source, len(fresh))]:
                known = merged.get(c.video_id)
                merged[c.video_id] = c if known is None else known.evolve(
                    sources=known.sources | c.sources)
        count_candidates(path, found, len(merged))
        if not merged:
            return []
        candidates = sorted((_co_watched(c, just.similarity) for c in merged.values()),
                            key=lambda c: c.video_id.bytes)  # a stable order for equal scores
        embeddings = embeddings_of(candidates)
        labels = interest_clusters.label(interests, embeddings, self.limits.interest_similarity)
        return ranking.rank(candidates, run.ranker, labels)

    async def _behaviour(self, user_id: uuid.UUID, run: BehaviourRun,
                         behaviour_query: np.ndarray | None,
                         content_query: np.ndarray | None,
                         limit: int, wanted: int, kept: ViewerNearest | None,
                         version: int | None, served: dict[str, int],
                         writes: list[asyncio.Task]) -> list[FeedCandidate]:
        """The behaviour source through the viewer's kept nearest list (self.kept)."""
        assert self.kept is not None and self.features is not None
        assert behaviour_query is not None  # the source exists only with one
        ids, depth = await self.kept.ids(user_id, run, behaviour_query, limit, wanted, kept,
                                         version, writes)
        if depth < limit:  # a shallower kept list: widened from its own depth
            served["behaviour"] = depth
        return candidates_of(ids, await self.features.features(run, ids), behaviour_query,
                             content_query, "behaviour")

    async def _nearest(self, run, space, ann_query, behaviour_query, content_query,
                       limit: int) -> list[FeedCandidate]:
        if self.features is not None:
            own = behaviour_query if space == "behaviour" else content_query
            ids = await self.behaviour.nearest_ids(
                run, space, own if ann_query is None else ann_query, limit)
            found = candidates_of(ids, await self.features.features(run, ids), behaviour_query,
                                  content_query, space if ann_query is None else "interest")
        else:
            found = await self.behaviour.nearest(run, space, behaviour_query, content_query,
                                                 limit, ann_query)
        if space == "content" and ann_query is None:
            found = [c for c in found if c.content >= self.limits.content_floor]
        return found

    async def _popular(self, run, behaviour_query, content_query,
                       ids: tuple[uuid.UUID, ...]) -> list[FeedCandidate]:
        pool = await self._popular_pool(run, ids)
        n = len(pool.video_ids)
        b = pool.behaviour @ behaviour_query if behaviour_query is not None else np.zeros(n)
        c = pool.content @ content_query if content_query is not None else np.zeros(n)
        return [FeedCandidate(v, float(b[i]), float(c[i]), float(pool.popularity[i]),
                              frozenset(("popular",)), pool.content[i],
                              pool.uploader_ids[i] if pool.uploader_ids else None,
                              pool.added_at[i] if pool.added_at else None)
                for i, v in enumerate(pool.video_ids)]

    async def _popular_pool(self, run: BehaviourRun, ids: tuple[uuid.UUID, ...]) -> PopularPool:
        """The pool's vectors change only with the run or the trending list: read them
        once per cache period instead of once per request."""
        key = (run.run_id, ids)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = await self.behaviour.popular_pool(run, ids)
        return pool


def _co_watched(c: FeedCandidate,
                similarity: dict[uuid.UUID, tuple[float, uuid.UUID]]) -> FeedCandidate:
    """Every source's candidate gets its just-watched feature, as the ranker was fitted."""
    found = similarity.get(c.video_id)
    if found is None or (found[0] == c.just_watched and found[1] == c.cited):
        return c
    return c.evolve(just_watched=found[0], cited=found[1])


def _fresh(found: list[FeedCandidate], seen: set[uuid.UUID]) -> int:
    return sum(1 for c in found if c.video_id not in seen)


async def _nothing() -> list[FeedCandidate]:
    return []


async def _no_lists() -> dict[str, list[FeedCandidate]]:
    return {}


async def _no_co_watched() -> JustWatched:
    return JustWatched()
