"""No endless repeats (issue 22): a video the feed showed a viewer on FEED_IMPRESSION_LIMIT
pages within FEED_IMPRESSION_WINDOW_DAYS, before the current browsing session, and that
they did not watch (watched videos never reach this point), is dropped from their feed
until the window passes those pages, or FEED_IMPRESSION_PAGES newer pages push them out.
Today's partition is read first, then, if it holds fewer pages, the window's older days
in one statement, each giving at most the pages still wanted: two statements and at most
FEED_IMPRESSION_PAGES rows (one a page) a day of the window, alongside the candidate
reads, once per browsing session and replica, whatever the viewer browsed.

Why once per session is exact: only pages before the session's start count, and a
session lasts while no pause is longer than FEED_SESSION_GAP_MIN. Within that long after
a read no such pause can have begun and ended, so the session, its start and the pages
before it are the ones read. The cached set is kept that long at most; the one thing it
misses is a page leaving the window meanwhile, which frees a video up to one gap late."""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cachetools import TTLCache

from killrvideo_reco.domain.impressions import days_between, over_shown
from killrvideo_reco.metrics import FEED_REPEAT_CACHE
from killrvideo_reco.service.ports import ImpressionRepository
from killrvideo_reco.service.ttl_cache import ttl_cache


@dataclass(frozen=True)
class RepeatRules:
    limit: int  # 0: off
    window: timedelta
    session_gap: timedelta
    cached_viewers: int = 0  # viewers whose over-shown set a replica keeps; 0: none
    pages: int = 50  # the newest pages read, at most


class RepeatLimit:
    def __init__(self, store: ImpressionRepository | None, rules: RepeatRules,
                 clock: Callable[[], float] = time.monotonic):
        self.store, self.rules = store, rules
        self._sessions: TTLCache[uuid.UUID, frozenset[uuid.UUID]] | None = ttl_cache(
            rules.session_gap.total_seconds(), rules.cached_viewers, clock)

    async def over_shown(self, user_id: uuid.UUID) -> frozenset[uuid.UUID]:
        if self.store is None or self.rules.limit <= 0:
            return frozenset()
        if self._sessions is not None:
            cached = self._sessions.get(user_id)
            if cached is not None:
                FEED_REPEAT_CACHE.labels("hit").inc()
                return cached
            FEED_REPEAT_CACHE.labels("miss").inc()
        now = datetime.now(timezone.utc)
        since = now - self.rules.window
        newest, *older = reversed(days_between(since, now))
        # Today's partition alone first: it usually holds the pages wanted. Then the older
        # days in one statement, each giving at most the pages still wanted.
        rows = await self.store.newest_shown(user_id, [newest], since, now, self.rules.pages)
        read = len({r.recommendation_id for r in rows})
        if older and read < self.rules.pages:
            rows += await self.store.newest_shown(user_id, older, since, now,
                                                  self.rules.pages - read)
        found = frozenset(over_shown(rows, self.rules.limit, now, self.rules.session_gap))
        if self._sessions is not None:
            self._sessions[user_id] = found
        return found
