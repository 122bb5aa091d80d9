"""No endless repeats (issue 22): a video the feed showed a viewer on FEED_IMPRESSION_LIMIT
pages within FEED_IMPRESSION_WINDOW_DAYS, before the current browsing session, and that
they did not watch (watched videos never reach this point), is dropped from their feed
until the window passes those pages. One bounded read of the viewer's impressions, run
alongside the candidate reads."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from killrvideo_reco.domain.impressions import days_between, over_shown
from killrvideo_reco.service.ports import ImpressionRepository

READ_LIMIT = 5000  # rows: e.g. 70 pages of 10 items a day for a week


@dataclass(frozen=True)
class RepeatRules:
    limit: int  # 0: off
    window: timedelta
    session_gap: timedelta


class RepeatLimit:
    def __init__(self, store: ImpressionRepository | None, rules: RepeatRules):
        self.store, self.rules = store, rules

    async def over_shown(self, user_id: uuid.UUID) -> set[uuid.UUID]:
        if self.store is None or self.rules.limit <= 0:
            return set()
        now = datetime.now(timezone.utc)
        since = now - self.rules.window
        days = list(reversed(days_between(since, now)))  # newest partitions first
        rows = await self.store.recent(user_id, since, now, days, READ_LIMIT)
        return over_shown(rows, self.rules.limit, now, self.rules.session_gap)
