"""Recording what viewers were shown, and attributing their views to it (issue 22).

Writes leave the request's critical path: they go on a bounded queue that a few worker
tasks of this process drain. A full queue drops the write and a failed one is not
retried further; both are counted (killrvideo_impression_writes_total) and logged, never
lost silently. The queue is drained on shutdown for up to SHUTDOWN_GRACE_S.
A view costs one bounded read of the viewer's recent impressions, run alongside its
commit, so it adds no latency to the view path.
The daily counters are summed in process and written once a second (daily_counters.py).
The same write records which videos each viewer was shown that day (domain/reach.py):
catalogue coverage per day and a video's impressions and viewers come from it.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import TypeVar

from killrvideo_reco import metrics
from killrvideo_reco.domain import online_metrics
from killrvideo_reco.domain.errors import StoreUnavailable
from killrvideo_reco.domain.impressions import (
    COMPLETED_SHARE,
    TOP_POSITIONS,
    Impression,
    ImpressionRow,
    ShownItem,
    ViewWatch,
    attributed,
    day_of,
    days_between,
    position_label,
)
from killrvideo_reco.domain.online_metrics import DailyMetrics
from killrvideo_reco.domain.reach import (
    DailyCoverage,
    VideoDay,
    coverage,
    is_new_viewer,
    video_days,
    viewer_bucket,
)
from killrvideo_reco.retries import retry_transient
from killrvideo_reco.service.daily_counters import DailyCounterBuffer
from killrvideo_reco.service.ports import ImpressionRepository
from killrvideo_reco.service.ttl_cache import CachedValue

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_VARIANT = "default"
WORKERS = 4
# An impression can be recorded this long after the view's own time and still precede it
# (clocks of replicas and clients disagree a little).
CLOCK_SLACK = timedelta(minutes=5)
# The catalogue size (coverage's denominator) is a scan of the videos' keys: once an hour.
CATALOGUE_COUNT_TTL_S = 3600.0
# How long a read of the daily metrics waits for this replica's pending counter writes.
COUNTER_READ_WAIT_S = 2.0


async def run_counted(kind: str, write: Callable[[], Awaitable[None]]) -> None:
    """One background write: counted and logged when it fails, never raised, never re-sent
    (counters are not idempotent; impressions were retried inside `write`)."""
    try:
        await write()
        metrics.IMPRESSION_WRITES.labels(kind, "written").inc()
    except Exception as error:  # noqa: BLE001 - counted and logged, the caller goes on
        metrics.IMPRESSION_WRITES.labels(kind, "failed").inc()
        log.warning("%s write failed: %s: %s", kind, type(error).__name__, error)


@dataclass(frozen=True)
class ImpressionParams:
    ttl_s: int
    attribution_window: timedelta
    queue_size: int
    enabled: bool = True
    video_buckets: int = 64  # VIDEO_IMPRESSION_BUCKETS
    new_viewer_max_positives: int = 10  # NEW_VIEWER_MAX_WATCHED
    counter_flush_s: float = 1.0  # IMPRESSION_COUNTER_FLUSH_S (daily_counters.py)


class ImpressionLog:
    def __init__(self, store: ImpressionRepository | None, params: ImpressionParams,
                 catalogue_size: Callable[[], Awaitable[int]] | None = None):
        """Without a store (the CLI's and the evaluation's wiring) nothing is recorded."""
        self._catalogue_size = (CachedValue(catalogue_size, CATALOGUE_COUNT_TTL_S)
                                if catalogue_size is not None else None)
        self.params = params if store is not None else replace(params, enabled=False)
        self.store: ImpressionRepository = store  # type: ignore[assignment]
        self.has_store = store is not None
        self._queue: asyncio.Queue[tuple[str, Callable[[], Awaitable[None]]]] | None = None
        self._workers: list[asyncio.Task] = []
        self.counters = DailyCounterBuffer(
            lambda *key: self.store.add_daily(*key), self.submit, self.params.counter_flush_s,
            run_counted)
        self._loop: asyncio.AbstractEventLoop | None = None

    def served(self, user_id: uuid.UUID | None, source: str, video_ids: Sequence[uuid.UUID],
               first_position: int, variant: str = DEFAULT_VARIANT,
               experiment_id: uuid.UUID | None = None,
               positives: int | None = None) -> uuid.UUID:
        """A page was served: its recommendation id (a time UUID). Signed-in viewers' pages
        are recorded in the background; anonymous ones only get the id. `positives`: the
        viewer's positive videos as the feed read them (None: not read), which says
        whether this is a new viewer's page."""
        recommendation_id = uuid.uuid1()
        if user_id is None or not video_ids or not self.params.enabled:
            return recommendation_id
        items = tuple(ShownItem(v, first_position + n) for n, v in enumerate(video_ids))
        impression = Impression(user_id, recommendation_id, items, source, variant,
                                experiment_id)
        for item in items:
            metrics.RECO_IMPRESSIONS.labels(source, variant, position_label(item.position)).inc()
        increments = {"impressions": len(items), "pages": 1}
        for item in items:
            if item.position <= TOP_POSITIONS:
                increments[f"impressions_p{item.position}"] = 1
        if is_new_viewer(positives, self.params.new_viewer_max_positives):
            metrics.RECO_NEW_VIEWER_PAGES.labels(source, variant).inc()
            increments["new_viewer_pages"] = 1
        day = day_of(impression.served_at)
        bucket = viewer_bucket(user_id, self.params.video_buckets)
        self.submit("impression", lambda: retry_transient(
            lambda: self.store.record(impression, self.params.ttl_s, bucket)))
        self.counters.add(day, source, variant, increments)
        return recommendation_id

    async def forget(self, user_id: uuid.UUID, now: datetime) -> int:
        """Erase what the viewer was shown: every day impressions can still live."""
        if not self.has_store:
            return 0
        days = days_between(now - timedelta(seconds=self.params.ttl_s), now + CLOCK_SLACK)
        return await self.store.forget(
            user_id, days, viewer_bucket(user_id, self.params.video_buckets))

    async def showing(self, user_id: uuid.UUID, video_id: uuid.UUID,
                      at: datetime) -> list[ImpressionRow]:
        """The viewer's impressions of `video_id` within the attribution window before
        `at`, by key: what it costs does not grow with what the viewer browsed."""
        since = at - self.params.attribution_window
        until = at + CLOCK_SLACK
        return await self.store.showing(user_id, video_id, days_between(since, until),
                                        viewer_bucket(user_id, self.params.video_buckets),
                                        since, until)

    async def with_attribution(self, user_id: uuid.UUID, video_id: uuid.UUID,
                               recommendation_id: uuid.UUID | None, at: datetime | None,
                               recording: Awaitable[T]) -> tuple[T, ImpressionRow | None]:
        """Run a view's commit (`recording`) with the read of what it may be a click on;
        the click is counted by `count_click` once the commit says it was not a retry."""
        if not self.params.enabled:
            return await recording, None
        lookup = asyncio.ensure_future(
            self.showing(user_id, video_id, at or datetime.now(timezone.utc)))
        try:
            outcome = await recording
        except BaseException:
            lookup.cancel()
            raise
        try:
            rows = await lookup
        except StoreUnavailable as error:
            metrics.IMPRESSION_WRITES.labels("attribution_read", "failed").inc()
            log.warning("view of %s by %s not attributed: impressions unreadable (%s)",
                        video_id, user_id, error)
            return outcome, None
        return outcome, attributed(rows, video_id, recommendation_id)

    def count_click(self, row: ImpressionRow, watch: ViewWatch) -> None:
        position = position_label(row.position)
        metrics.RECO_ATTRIBUTED_VIEWS.labels(row.source, row.variant, position).inc()
        metrics.RECO_ATTRIBUTED_WATCH_SECONDS.labels(row.source, row.variant).inc(watch.seconds)
        completion = watch.completion
        completed = completion is not None and completion >= COMPLETED_SHARE
        if completed:
            metrics.RECO_ATTRIBUTED_COMPLETIONS.labels(row.source, row.variant).inc()
        increments = {"clicks": 1, "watch_seconds": round(watch.seconds),
                      "completed": int(completed),
                      "views_with_duration": int(completion is not None),
                      "completion_permille": round(1000 * (completion or 0.0))}
        if row.position <= TOP_POSITIONS:
            increments[f"clicks_p{row.position}"] = 1
        day = day_of(row.served_at)  # counted on the impression's day: CTR = clicks/shown
        self.counters.add(day, row.source, row.variant, increments)

    def submit(self, kind: str, write: Callable[[], Awaitable[None]]) -> None:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop:
            # The first write starts the workers on the serving loop (again on a new loop:
            # jobs and tests run several in turn).
            self._queue, self._loop = asyncio.Queue(self.params.queue_size), loop
            self._workers = [asyncio.create_task(self._work(self._queue))
                             for _ in range(WORKERS)]
        try:
            self._queue.put_nowait((kind, write))
        except asyncio.QueueFull:
            metrics.IMPRESSION_WRITES.labels(kind, "dropped").inc()
            log.warning("impression queue full (%d): a %s write dropped",
                        self.params.queue_size, kind)

    async def _work(self, queue: asyncio.Queue) -> None:
        while True:
            kind, write = await queue.get()
            try:
                await run_counted(kind, write)
            finally:
                queue.task_done()

    async def drain(self, timeout_s: float) -> bool:
        """Write the summed counters and wait until every queued write is done (at most
        timeout_s); False if it was not."""
        self.counters.flush()
        if self._queue is None:
            return True
        try:
            await asyncio.wait_for(self._queue.join(), timeout_s)
            return True
        except TimeoutError:
            return False

    async def close(self, grace_s: float) -> None:
        if not await self.drain(grace_s) and self._queue is not None:
            log.warning("shutdown: %d impression writes not done", self._queue.qsize())
        for task in self._workers:
            task.cancel()
        self._workers, self._queue = [], None

    async def daily_metrics(self, days: Sequence[date]) -> list[DailyMetrics]:
        """The online metrics of these days (empty when nothing is recorded here). This
        replica's summed counters are written first (for at most COUNTER_READ_WAIT_S), so
        an operator sees what it served; other replicas' lag by IMPRESSION_COUNTER_FLUSH_S."""
        if not self.has_store:
            return []
        await self.counters.written(COUNTER_READ_WAIT_S)
        return online_metrics.daily_metrics(await self.store.daily(days))

    async def coverage(self, days: Sequence[date]) -> list[DailyCoverage]:
        """Distinct videos shown on each of these days, and that over the catalogue's
        current size (empty when nothing is recorded here)."""
        if not self.has_store:
            return []
        size = await self._catalogue_size.get() if self._catalogue_size is not None else None
        today = datetime.now(timezone.utc).date()
        # Days whose rows have all expired, or are yet to come, hold nothing: not read.
        first = today - timedelta(seconds=self.params.ttl_s) - timedelta(days=1)
        found = []
        for day in days:  # one after another: each reads its buckets concurrently already
            shown = (await self.store.videos_shown(day, self.params.video_buckets)
                     if first <= day <= today + timedelta(days=1) else [])
            found.append(coverage(day, shown, size))
        return found

    async def video_impressions(self, video_id: uuid.UUID,
                                days: Sequence[date]) -> list[VideoDay]:
        """How often the video was shown on each of these days, and to how many viewers."""
        rows = (await self.store.video_days(video_id, days, self.params.video_buckets)
                if self.has_store else [])
        return video_days(days, rows)

