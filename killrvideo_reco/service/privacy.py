"""What a viewer can see and erase of their own data: their watch history, page by page,
and "forget me" (every per-viewer row; aggregate view counts and trending stay)."""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from killrvideo_reco.domain.models import HistoryRow
from killrvideo_reco.service.impressions import ImpressionLog
from killrvideo_reco.service.ports import VideoRepository, ViewerRepository

_EPOCH = datetime.min.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class HistoryEntry:
    row: HistoryRow
    title: str | None  # None when the video has since been deleted


@dataclass(frozen=True)
class HistoryPage:
    entries: list[HistoryEntry]
    total: int
    page: int
    page_size: int


def last_activity(row: HistoryRow) -> datetime:
    return max((t for t in (row.last_watched, row.hidden_at, row.first_watched) if t),
               default=_EPOCH)


class PrivacyService:
    def __init__(self, videos: VideoRepository, viewers: ViewerRepository,
                 impressions: ImpressionLog | None = None):
        self.videos, self.viewers, self.impressions = videos, viewers, impressions

    async def history_page(self, user_id: uuid.UUID, page: int, page_size: int) -> HistoryPage:
        """Most recent activity first. One partition read: the history is the viewer's own."""
        rows = sorted(await self.viewers.history(user_id),
                      key=lambda r: (last_activity(r), r.video_id.bytes), reverse=True)
        window = rows[(page - 1) * page_size:page * page_size]
        summaries = await self.videos.summaries([r.video_id for r in window]) if window else {}
        entries = [HistoryEntry(r, summaries[r.video_id].title if r.video_id in summaries
                                else None) for r in window]
        return HistoryPage(entries, len(rows), page, page_size)

    async def forget(self, user_id: uuid.UUID) -> None:
        """Erase history, hides, taste state and preference vectors, then what the viewer
        was shown (impressions and their reach rows); the next feed is a cold start."""
        taste = await self.viewers.taste_state(user_id, for_update=True)
        # The read model is written USING TIMESTAMP taste_version (microseconds, possibly
        # a little ahead of the clock): delete above it, or the row would survive.
        at_us = max(time.time_ns() // 1000, (taste.version or 0) + 1)
        await self.viewers.forget(user_id, at_us)
        if self.impressions is not None:
            await self.impressions.forget(user_id, datetime.now(timezone.utc))
