"""The "For You" feed: where a viewer's page of recommendations is computed.

One pipeline, in stages: retrieval (service/retrieval.py: candidates from the viewer's
behaviour vector, their interests or content preference vector, the just-watched lists
and the popular pool, merged, watched and hidden dropped exactly), ranking
(domain/ranking.py: the live run's fitted weights), shaping (domain/shaping.py:
diversity, freshness, the creator cap), then paging. Before the first training run the
same pipeline runs with models.UNTRAINED: content space and popular pool only, default
weights. Without a usable profile: cold start, trending then latest, with the same
exclusions.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta

import numpy as np
from cachetools import LRUCache, TTLCache

from killrvideo_reco.domain import feed_rules
from killrvideo_reco.domain import interests as interest_clusters
from killrvideo_reco.domain.behaviour import viewer_query
from killrvideo_reco.domain.explanations import based_on_for_items
from killrvideo_reco.domain.models import (
    UNTRAINED,
    BasedOn,
    FeedItem,
    FeedPage,
    FeedSource,
    RankingFeatures,
    RecentVideo,
    StoredProfile,
    VideoSummary,
)
from killrvideo_reco.domain.ranking import Ranked
from killrvideo_reco.domain.shaping import ShapingParams, shaped
from killrvideo_reco.domain.viewer_nearest import NearestRules
from killrvideo_reco.metrics import FEED_LIST_CACHE
from killrvideo_reco.service.fallback import FallbackPool
from killrvideo_reco.service.just_watched import JustWatchedSource
from killrvideo_reco.service.neighbour_cache import NeighbourListCache, neighbour_list_cache
from killrvideo_reco.service.neighbours import CandidateFeatures, ContentNeighbours, InterestSource
from killrvideo_reco.service.ports import (
    NO_RUN,
    ActiveRun,
    BehaviourRepository,
    NeighbourRepository,
    VideoRepository,
    ViewerRepository,
)
from killrvideo_reco.service.repeats import RepeatLimit, RepeatRules
from killrvideo_reco.service.retrieval import CandidateLimits, CandidateRetrieval
from killrvideo_reco.service.ttl_cache import CachedByKey, CachedValue, ttl_cache
from killrvideo_reco.service.view_facts import ViewFacts
from killrvideo_reco.settings import Settings

log = logging.getLogger(__name__)


# Pages shaped together on a ranked list's first request (see FeedService._shaped_to).
SHAPED_PAGES = 3


@dataclass
class RankedList:
    """A viewer's ranked unseen candidates as the list cache keeps them."""
    ranked: list[Ranked]
    ranked_at: float  # the time shaping's freshness counts from, the same for every page
    # The profile it was ranked for, resolved: the next pages explain their items with it.
    prefs: StoredProfile | None = None
    shown: list[Ranked] = field(default_factory=list)  # the first positions, shaped
    # Which interest each recent like belongs to: computed by the first page explained,
    # reused by the next ones (None: not yet; () when there is nothing to group).
    recent_groups: tuple[int, ...] | None = None
    # (profile version, run, catalogue model): a view or hide writes a new version, so
    # the next request after it never sees a list that predates it.
    key: tuple = ()


class FeedService:
    def __init__(self, videos: VideoRepository, viewers: ViewerRepository,
                 settings: Settings, behaviour: BehaviourRepository,
                 runs: ActiveRun | None = None, neighbours: NeighbourRepository | None = None,
                 popularity_only: bool = False, repeats: RepeatLimit | None = None,
                 summaries: CachedByKey[uuid.UUID, VideoSummary] | None = None,
                 facts: ViewFacts | None = None, lists: NeighbourListCache | None = None):
        self.videos, self.viewers, self.settings = videos, viewers, settings
        # Resolves the read model's references; shared with the view path, whose views
        # put the viewer's recent likes in its cache.
        self.facts = facts or ViewFacts(videos)
        self.summaries = summaries or summary_reader(videos, settings)
        self.popularity_only = popularity_only  # an experiment's "popularity" variant
        self.repeats = repeats or RepeatLimit(None, RepeatRules(0, timedelta(0), timedelta(0)))
        self.runs = runs or NO_RUN
        # The content neighbour lists, shared with uploads (catalogue.py), which compute theirs.
        # `lists`: the process's neighbour-list cache, shared with related videos.
        if neighbours is not None and lists is None:
            lists = neighbour_list_cache(neighbours, settings)
        self.neighbours = ContentNeighbours(
            videos, neighbours, settings.feed_neighbours,
            settings.feed_neighbours_max_age_h * 3600, lists) if neighbours else None
        lists_on = bool(neighbours and settings.feed_neighbours > 0)
        features = CandidateFeatures(behaviour, settings.feed_feature_cache_size) \
            if lists_on else None
        interest_source = InterestSource(self.neighbours, features) \
            if self.neighbours and features else None
        just_watched = JustWatchedSource(
            lists, features, settings.feed_just_watched_videos,
            settings.feed_just_watched_candidates) if lists and features else None
        self.retrieval = CandidateRetrieval(behaviour, viewers, CandidateLimits(
            settings.candidate_sizes, settings.feed_similarity_floor,
            settings.feed_cache_ttl_s, settings.feed_interest_similarity,
            NearestRules(settings.feed_viewer_nearest_min_cosine,
                         settings.feed_neighbours_max_age_h * 3600)
            if settings.feed_viewer_nearest else None),
            interest_source, just_watched, features)
        self.shaping = ShapingParams(
            settings.feed_diversity_lambda, settings.feed_creator_cap,
            settings.feed_shaping_block, settings.feed_shaping_window,
            settings.feed_freshness_days, settings.feed_freshness_boost)
        self.fallback = FallbackPool(videos, viewers, settings.trending_window_days,
                                     settings.feed_max_ann_limit, settings.feed_cache_ttl_s)
        self._catalogue_model = CachedValue(videos.catalogue_model, settings.feed_cache_ttl_s)
        self._logged_unusable: LRUCache[uuid.UUID, bool] = LRUCache(maxsize=10_000)
        # Each viewer's latest ranked list, served while its key (RankedList.key) holds. A
        # viewer with one here has their next request (page 2, a reload) look it up by the
        # read model's stamp first; anyone else's reads the whole read model at once.
        self.lists: TTLCache[uuid.UUID, RankedList] | None = (
            TTLCache(maxsize=settings.feed_list_cache_size, ttl=settings.feed_list_cache_ttl_s)
            if settings.feed_list_cache_size > 0 and settings.feed_list_cache_ttl_s > 0
            else None)

    async def for_you(self, user_id: uuid.UUID, page: int, page_size: int) -> FeedPage:
        if self.popularity_only:
            return await self._cold_start(user_id, page, page_size)
        if self.lists is not None and user_id in self.lists:
            # The next pages of a list just ranked, or a reload: the read model's version
            # finds it, without reading its vectors.
            stamp, catalogue_model, live = await asyncio.gather(
                self.viewers.profile_stamp(user_id), self._catalogue_model.get(),
                self.runs.get())
            cached = self._cached(user_id, (stamp.version, (live or UNTRAINED).run_id,
                                            catalogue_model)) \
                if stamp is not None and stamp.version is not None else None
            if cached is not None and stamp is not None:
                return await self._page(cached, page, page_size, stamp.item_count)
        stored, catalogue_model, live = await asyncio.gather(
            self.viewers.profile(user_id), self._catalogue_model.get(), self.runs.get())
        run = live or UNTRAINED
        # The vectors and the version are the stored row's; only the ranking and the
        # explanations need its references resolved, so a page from the list cache does not.
        positives = stored.item_count if stored is not None else 0
        verdict = feed_rules.usable_profile(stored, catalogue_model, self.settings.vector_dimension)
        if verdict.vector is None and stored is not None and stored.preference_vector is not None:
            self._log_unusable_once(user_id, verdict.reason)
        behaviour = stored.behaviour_in(run) if stored is not None else None
        behaviour_query = viewer_query(behaviour, run) if behaviour is not None else None
        if behaviour_query is not None or verdict.vector is not None:
            listed = await self._ranked(user_id, run, stored, behaviour_query, verdict.vector,
                                        catalogue_model)
            if listed.ranked:
                return await self._page(listed, page, page_size, positives)
        return replace(await self._cold_start(user_id, page, page_size), positives=positives)

    async def _page(self, listed: RankedList, page: int, page_size: int,
                    positives: int) -> FeedPage:
        start, end = feed_rules.page_bounds(page, page_size)
        shown = self._shaped_to(listed, end, page_size)
        # Page 1 reads the summaries of every shaped page: the next pages find them in
        # the summary cache.
        ahead = [r.candidate.video_id for r in shown[end:]] if start == 0 else []
        items = await self._items(shown[start:end], listed, ahead)
        return FeedPage(items, len(listed.ranked), page, page_size, "personalized", positives)

    async def _ranked(self, user_id: uuid.UUID, run, stored: StoredProfile | None,
                      behaviour_query, content_query, catalogue_model: str | None
                      ) -> RankedList:
        """The viewer's ranked unseen candidates, from the list cache when this profile
        version and run already produced them (page 2, page 3, a reload). The catalogue's
        embedding model completes the key: with the version and the run it decides which
        queries the profile yields (feed_rules.usable_profile)."""
        key = (stored.version, run.run_id, catalogue_model) \
            if stored is not None and stored.version is not None else None
        cached = self._cached(user_id, key) if key is not None else None
        if cached is not None:
            return cached
        prefs = await self.facts.resolve_profile(stored, self.settings.vector_dimension)
        size = self.settings.feed_popular_candidates
        popular = feed_rules.merge_unique((await self.fallback.trending())[:size],
                                       run.popular[:size])
        interests = prefs.interests if prefs is not None and content_query is not None else ()
        # The cached list holds the candidates themselves: the next pages are shaped and
        # explained from exactly what the first page was.
        ranked, over_shown = await asyncio.gather(self.retrieval.ranked_unseen(
            user_id, run, behaviour_query, content_query, popular, interests,
            prefs.model_id if prefs is not None else None,
            prefs.item_count if prefs is not None else 0,
            [r.video_id for r in prefs.recent_positive] if prefs is not None else [],
            stored.nearest if stored is not None else None,
            stored.version if stored is not None else None),
            self.repeats.over_shown(user_id))
        listed = RankedList([r for r in ranked if r.candidate.video_id not in over_shown],
                            time.time(), prefs, key=key or ())
        if key is not None and self.lists is not None and listed.ranked:
            FEED_LIST_CACHE.labels("miss").inc()
            self.lists[user_id] = listed
        return listed

    def _cached(self, user_id: uuid.UUID, key: tuple) -> RankedList | None:
        """The viewer's cached list if it was ranked for `key`."""
        found = self.lists.get(user_id) if self.lists is not None else None
        if found is None or found.key != key:
            return None
        FEED_LIST_CACHE.labels("hit").inc()
        return found

    def _shaped_to(self, listed: RankedList, end: int, page_size: int) -> list[Ranked]:
        """The list in the order shown, at least up to position `end`. Shaping is greedy,
        so positions once shaped are final: pages 1 to SHAPED_PAGES are shaped at once
        and kept with the cached list, and the next pages cost no shaping."""
        if len(listed.shown) < min(end, len(listed.ranked)):
            positions = max(end, SHAPED_PAGES * page_size)
            listed.shown = shaped(listed.ranked, self.shaping, listed.ranked_at, positions)
        return listed.shown

    async def _items(self, window: list[Ranked], listed: RankedList,
                     ahead: Sequence[uuid.UUID] = ()) -> list[FeedItem]:
        """The page's items, each explained by the recent likes of the interest it
        belongs to (all recent likes when it belongs to none). `ahead`: videos of the
        next pages whose summaries are read (and cached) along with the page's."""
        summaries = await self.summaries.get_many(
            [*(r.candidate.video_id for r in window), *ahead])
        shown = [r for r in window if r.candidate.video_id in summaries]
        prefs = listed.prefs
        recent: Sequence[RecentVideo] = prefs.recent_positive if prefs is not None else ()
        if listed.recent_groups is None:
            listed.recent_groups = tuple(interest_clusters.label(
                prefs.interests, np.stack([v.unit_vector for v in recent]), -1.0).tolist()) \
                if prefs is not None and recent and len(prefs.interests) >= 2 else ()
        groups = listed.recent_groups or None
        why: list[list[BasedOn]] = [[] for _ in shown]
        # One explanation pass per interest (and one for items of none).
        for interest in {r.interest for r in shown}:
            members = [n for n, r in enumerate(shown) if r.interest == interest]
            likes = recent
            if groups is not None and interest >= 0:
                likes = [v for v, g in zip(recent, groups) if g == interest] or recent
            if likes:
                for n, found in zip(members, based_on_for_items(
                        [shown[n].candidate.embedding for n in members], likes)):
                    why[n] = found
        titles = {v.video_id: v.title for v in recent}
        for n, r in enumerate(shown):
            # A co-watched candidate cites the video whose neighbour list brought it.
            cited = r.candidate.cited
            if cited in titles and (not why[n] or why[n][0].video_id != cited):
                assert cited is not None
                why[n] = [BasedOn(cited, titles[cited]),
                          *[b for b in why[n] if b.video_id != cited]][:3]
        return [FeedItem(summaries[r.candidate.video_id],
                         max(r.candidate.behaviour, r.candidate.content), tuple(reasons),
                         _features(r))
                for r, reasons in zip(shown, why)]

    async def _cold_start(self, user_id: uuid.UUID, page: int, page_size: int) -> FeedPage:
        pool, trending = await self.fallback.candidates()
        seen = await self.viewers.seen_among(user_id, pool)
        fresh_ids = [video_id for video_id in pool if video_id not in seen]
        start, end = feed_rules.page_bounds(page, page_size)
        page_ids = fresh_ids[start:end]
        summaries = await self.summaries.get_many(page_ids)
        items = [FeedItem(summaries[v]) for v in page_ids if v in summaries]
        on_trending = any(v in trending for v in page_ids) or (not page_ids and bool(trending))
        source: FeedSource = "trending" if on_trending else "latest"
        return FeedPage(items, len(fresh_ids), page, page_size, source)

    def _log_unusable_once(self, user_id: uuid.UUID, reason: str) -> None:
        if user_id in self._logged_unusable:
            return
        self._logged_unusable[user_id] = True
        log.warning("user %s: stored profile not usable (%s); serving cold start", user_id, reason)


def _features(ranked: Ranked) -> RankingFeatures:
    c = ranked.candidate
    return RankingFeatures(c.behaviour, c.content, c.popularity, c.just_watched,
                           tuple(sorted(c.sources)), ranked.score)


def summary_reader(videos: VideoRepository,
                   settings: Settings) -> CachedByKey[uuid.UUID, VideoSummary]:
    """Summaries through the process's cache (VIDEO_SUMMARY_CACHE_SIZE, FEED_CACHE_TTL_S)."""
    return CachedByKey(videos.summaries,
                       ttl_cache(settings.feed_cache_ttl_s, settings.video_summary_cache_size))
