"""Cold-start candidates: trending (most viewed in the last N days), then latest."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

from killrvideo_reco.domain.feed_rules import merge_unique, trending_order
from killrvideo_reco.service.ports import VideoRepository, ViewerRepository
from killrvideo_reco.service.ttl_cache import CachedValue


class FallbackPool:
    def __init__(self, videos: VideoRepository, viewers: ViewerRepository, window_days: int,
                 pool_size: int, cache_ttl_s: float):
        self.videos, self.viewers = videos, viewers
        self.window_days, self.pool_size = window_days, pool_size
        self._trending = CachedValue(self._load_trending, cache_ttl_s)
        self._latest = CachedValue(self._load_latest, cache_ttl_s)

    async def candidates(self) -> tuple[list[uuid.UUID], set[uuid.UUID]]:
        """All fallback ids in feed order, and which of them are trending."""
        trending, latest = await asyncio.gather(self._trending.get(), self._latest.get())
        return merge_unique(trending, latest), set(trending)

    async def trending(self) -> list[uuid.UUID]:
        """Most viewed in the window, most viewed first (cached)."""
        return await self._trending.get()

    def invalidate(self) -> None:
        self._trending.invalidate()
        self._latest.invalidate()

    async def _load_trending(self) -> list[uuid.UUID]:
        today = datetime.now(timezone.utc).date()
        days = [today - timedelta(days=n) for n in range(self.window_days)]
        per_day = await asyncio.gather(*(self.viewers.views_on(day) for day in days))
        ranked = trending_order(pair for day in per_day for pair in day)
        return [video_id for video_id, _ in ranked[:self.pool_size]]

    async def _load_latest(self) -> list[uuid.UUID]:
        ids = await self.videos.latest_ids(self.pool_size)
        if len(ids) >= self.pool_size:
            return ids
        # Older catalogues: any videos at all, so the feed is never empty.
        extra = await self.videos.any_summaries(self.pool_size)
        return merge_unique(ids, (s.video_id for s in extra))[:self.pool_size]
