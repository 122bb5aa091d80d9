"""In-memory ViewCountRepository. It reads the histories of a FakeViewerStore and shares
its all-time counters (`totals`, what count_view adds to), as the Cassandra stores share
tables; like every fake viewer, every fake video sits at token 0."""
from __future__ import annotations

from killrvideo_reco.domain.errors import StoreUnavailable
from tests.fakes.viewers import FakeViewerStore


def _covers_zero(start: int, end: int) -> bool:
    return start < 0 <= end


class FakeViewCountStore:
    def __init__(self, viewers: FakeViewerStore | None = None):
        self.viewers = viewers or FakeViewerStore()
        self.adds = 0
        # The next `fail_adds` adds apply, then raise: a timeout after the write landed.
        self.fail_adds = 0

    async def plays_in_token_range(self, start, end):
        rows = await self.viewers.history_in_token_range(start, end)
        return [(row.video_id, row.play_count) for _, row in rows if row.play_count > 0]

    async def counters_in_token_range(self, start, end):
        return list(self.viewers.totals.items()) if _covers_zero(start, end) else []

    async def totals(self, video_ids):
        return {v: self.viewers.totals[v] for v in video_ids if v in self.viewers.totals}

    async def add(self, video_id, delta):
        self.adds += 1
        self.viewers.totals[video_id] = self.viewers.totals.get(video_id, 0) + delta
        if self.fail_adds:
            self.fail_adds -= 1
            raise StoreUnavailable("counter write timed out (fake)")
