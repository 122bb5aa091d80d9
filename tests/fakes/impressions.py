"""In-memory ImpressionRepository: rows by (viewer, day), daily counters in a dict, the
pages that showed each video by (day, bucket, video, viewer)."""
from __future__ import annotations

from killrvideo_reco.domain.errors import StoreUnavailable
from killrvideo_reco.domain.impressions import ImpressionRow, ShownRow, day_of, served_at


class FakeImpressionStore:
    def __init__(self):
        self.rows: dict[tuple, list[ImpressionRow]] = {}
        self.counters: dict[tuple, int] = {}
        self.shown: dict[tuple, set] = {}
        # Pages stored as item rows before one row a page: (impression, seconds left).
        self.item_pages: list[tuple] = []
        # The next `fail_records` impression writes and `fail_counters` counter writes raise.
        self.fail_records = self.fail_counters = 0

    def _maybe_fail(self, knob: str):
        if getattr(self, knob):
            setattr(self, knob, getattr(self, knob) - 1)
            raise StoreUnavailable("write timed out (fake)")

    async def record(self, impression, ttl_s, bucket):
        self._maybe_fail("fail_records")
        day = day_of(impression.served_at)
        for item in impression.items:
            self.shown.setdefault((day, bucket, item.video_id, impression.user_id),
                                  set()).add(impression.recommendation_id)
        self._add_page(impression)

    def _add_page(self, impression):
        """The page's rows, once (keyed by the page, as the store's row is)."""
        rows = self.rows.setdefault((impression.user_id, day_of(impression.served_at)), [])
        if not any(r.recommendation_id == impression.recommendation_id for r in rows):
            rows.extend(ImpressionRow(impression.recommendation_id, item.video_id,
                                      item.position, impression.source, impression.variant,
                                      impression.experiment_id) for item in impression.items)

    async def item_pages_in_token_range(self, start, end):
        # A stand-in token: the viewer id's first 8 bytes, as a signed 64-bit number.
        return [(page, ttl) for page, ttl in self.item_pages
                if start < int.from_bytes(page.user_id.bytes[:8], "big", signed=True) <= end]

    async def forget(self, user_id, days, bucket):
        gone = {k for k in self.shown if k[0] in days and k[1] == bucket and k[3] == user_id}
        for key in gone:
            del self.shown[key]
        for day in days:
            self.rows.pop((user_id, day), None)
        return len(gone)

    async def record_page(self, impression, ttl_s):
        self._maybe_fail("fail_records")
        self._add_page(impression)

    async def showing(self, user_id, video_id, days, bucket, since, until):
        found = []
        for day in days:
            pages = {p for p in self.shown.get((day, bucket, video_id, user_id), ())
                     if since <= served_at(p) <= until}
            found += [r for r in self.rows.get((user_id, day), ())
                      if r.recommendation_id in pages and r.video_id == video_id]
        return found

    async def newest_shown(self, user_id, days, since, until, pages):
        found = sorted((r for day in days for r in self.rows.get((user_id, day), ())
                        if since <= r.served_at <= until),
                       key=lambda r: (-r.recommendation_id.time, r.position))
        newest = list(dict.fromkeys(r.recommendation_id for r in found))[:pages]
        return [ShownRow(r.recommendation_id, r.video_id) for r in found
                if r.recommendation_id in newest]

    async def add_daily(self, day, source, variant, increments):
        self._maybe_fail("fail_counters")
        for metric, value in increments.items():
            key = (day, source, variant, metric)
            self.counters[key] = self.counters.get(key, 0) + value

    async def daily(self, days):
        return [(*key, value) for key, value in sorted(self.counters.items())
                if key[0] in days]

    async def videos_shown(self, day, buckets):
        return [video for d, bucket, video in {k[:3] for k in self.shown}
                if d == day and bucket < buckets]

    async def video_days(self, video_id, days, buckets):
        sums: dict[tuple, list[int]] = {}
        for (day, bucket, video, _), pages in self.shown.items():
            if video == video_id and day in days and bucket < buckets:
                entry = sums.setdefault((day, bucket), [0, 0])
                entry[0] += len(pages)
                entry[1] += 1
        return [(day, shown, viewers) for (day, _), (shown, viewers) in sums.items()]
