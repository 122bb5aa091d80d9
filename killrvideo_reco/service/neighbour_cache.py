"""Neighbour lists by key, through a bounded in-process cache shared by the feed's sources
(interests, just watched) and related videos.

An entry is one video's list of one version: a training run's behaviour list, which never
changes once written, or an embedding model's content list, which changes only when it is
recomputed (here, by ContentNeighbours, which puts the new one; on another replica, which
this one sees after FEED_NEIGHBOUR_CACHE_TTL_S, and the list's own maximum age still
applies). A popular video is a medoid or a recent like of many viewers: its lists are
read once per period instead of once per page 1.
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence

from cachetools import TTLCache

from killrvideo_reco.domain.models import NeighbourList
from killrvideo_reco.metrics import NEIGHBOUR_LIST_CACHE
from killrvideo_reco.service.ports import NeighbourRepository
from killrvideo_reco.service.ttl_cache import ttl_cache
from killrvideo_reco.settings import Settings


class NeighbourListCache:
    def __init__(self, store: NeighbourRepository, cache: TTLCache | None):
        """`cache` None: every read goes to the store."""
        self.store, self._cache = store, cache

    async def lists(self, video_ids: Sequence[uuid.UUID], space: str, version: str,
                    absent_final: bool = False) -> dict[uuid.UUID, NeighbourList]:
        """The videos' lists of `version` in `space`; a video without one is left out.
        `absent_final`: no list of this version will appear later (a live run's behaviour
        lists are all written before it goes live), so "none" is cached too."""
        cache = self._cache
        found: dict[uuid.UUID, NeighbourList] = {}
        missing: list[uuid.UUID] = []
        asked = dict.fromkeys(video_ids)
        for video_id in asked:
            key = (space, version, video_id)
            if cache is not None and key in cache:
                hit = cache[key]
                if hit is not None:
                    found[video_id] = hit
            else:
                missing.append(video_id)
        NEIGHBOUR_LIST_CACHE.labels("hit").inc(len(asked) - len(missing))
        if not missing:
            return found
        NEIGHBOUR_LIST_CACHE.labels("miss").inc(len(missing))
        stored = await self.store.neighbour_lists(missing, space)
        for video_id in missing:
            mine = stored.get(video_id)
            if mine is not None and mine.version != version:
                mine = None  # another run's or model's: not an answer for this version
            if mine is not None:
                found[video_id] = mine
            if cache is not None and (mine is not None or absent_final):
                cache[(space, version, video_id)] = mine
        return found

    def put(self, video_id: uuid.UUID, space: str, neighbours: NeighbourList) -> None:
        """A list just computed and written by this replica."""
        if self._cache is not None:
            self._cache[(space, neighbours.version, video_id)] = neighbours


def neighbour_list_cache(store: NeighbourRepository, settings: Settings) -> NeighbourListCache:
    """Lists through the process's cache (FEED_NEIGHBOUR_CACHE_SIZE, _TTL_S)."""
    return NeighbourListCache(store, ttl_cache(settings.feed_neighbour_cache_ttl_s,
                                               settings.feed_neighbour_cache_size))
