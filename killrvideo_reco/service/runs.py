"""The live training run as the services see it: read through a short cache, so a
switch reaches every process within FEED_CACHE_TTL_S."""
from __future__ import annotations

from cachetools import LRUCache

from killrvideo_reco.domain.behaviour import ContentMap
from killrvideo_reco.domain.models import BehaviourRun
from killrvideo_reco.service.ports import BehaviourRepository
from killrvideo_reco.service.ttl_cache import CachedValue


class LiveRun:
    def __init__(self, behaviour: BehaviourRepository, ttl_s: float):
        self._cached = CachedValue(behaviour.active_run, ttl_s)
        self._maps: LRUCache[str, ContentMap] = LRUCache(maxsize=2)  # live run + next

    async def get(self) -> BehaviourRun | None:
        return await self._cached.get()

    def invalidate(self) -> None:
        self._cached.invalidate()

    def content_map(self, run: BehaviourRun) -> ContentMap | None:
        """The run's content -> behaviour map, decoded once per run."""
        if not run.content_map:
            return None
        if run.run_id not in self._maps:
            self._maps[run.run_id] = ContentMap.from_bytes(run.content_map)
        return self._maps[run.run_id]
