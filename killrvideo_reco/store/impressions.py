"""CQL for impressions (what viewers were shown: one row a page,
cql/0015_impression_pages.cql), the daily recommendation counters
(cql/0010_impressions.cql), and which videos were shown to whom each day
(cql/0012_video_impressions.cql). One page is one unlogged batch of two statements over
two partitions (the viewer's day and the viewer's bucket of the day); counters of one
event are one counter batch on one shard of their day."""
from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import partial

from cassandra.query import BatchStatement, BatchType

from killrvideo_reco.domain.impressions import (
    Impression,
    ImpressionRow,
    ShownItem,
    ShownRow,
    day_of,
    served_at,
)
from killrvideo_reco.store.aio import execute
from killrvideo_reco.store.connection import WRITE_EXECUTION, Session, tuple_new
from killrvideo_reco.store.connection import prepare as prepare_statement
from killrvideo_reco.store.uuid_codec import SHARED

# Partitions per day of recommendation_daily: increments spread over them, reads sum them.
DAILY_SHARDS = 8
# Concurrent single-partition reads of video_impressions_by_day one admin request makes.
PARTITION_READS = 32

DailyRow = tuple[date, str, str, str, int]  # (day, source, variant, metric, value)


def _page_row(impression: Impression, day: date, ttl_s: int) -> tuple:
    items = impression.items
    return (impression.user_id, day, impression.recommendation_id,
            b"".join(item.video_id.bytes for item in items),
            items[0].position if items else 1, impression.source, impression.variant,
            impression.experiment_id, ttl_s)


class ImpressionStore:
    def __init__(self, session: Session, keyspace: str):
        self.session = session
        prepare = partial(prepare_statement, session)
        self._insert = prepare(
            f"INSERT INTO {keyspace}.impression_pages (userid, day, recommendation_id, "
            "videoids, first_position, source, variant, experiment_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?")
        # The repeat limit wants the newest pages. Cassandra answers an IN over partitions
        # in key order (oldest day first), so over several days each day gives its newest
        # pages and the newest are kept.
        self._newest = prepare(
            f"SELECT recommendation_id, videoids FROM {keyspace}.impression_pages "
            "WHERE userid = ? AND day IN ? AND recommendation_id >= minTimeuuid(?) "
            "AND recommendation_id <= maxTimeuuid(?) PER PARTITION LIMIT ?")
        # A view's attribution looks its video up by key (which pages showed it to the
        # viewer each day), then reads those pages: no scan of the viewer's day.
        self._pages_showing = prepare(
            f"SELECT day, pages FROM {keyspace}.video_impressions_by_day "
            "WHERE day IN ? AND bucket = ? AND videoid = ? AND userid = ?")
        self._pages = prepare(
            f"SELECT recommendation_id, videoids, first_position, source, variant, "
            f"experiment_id FROM {keyspace}.impression_pages WHERE userid = ? AND day = ? "
            "AND recommendation_id IN ?")
        # cql/0010's item rows, written before 0015: `make migrate-impressions` copies them.
        self._item_rows = prepare(
            f"SELECT userid, day, recommendation_id, videoid, position, source, variant, "
            f"experiment_id, TTL(source) AS ttl FROM {keyspace}.impressions "
            "WHERE token(userid, day) > ? AND token(userid, day) <= ?")
        # One statement for the page's videos: each row gets the same page id.
        self._shown = prepare(
            f"UPDATE {keyspace}.video_impressions_by_day USING TTL ? SET pages = pages + ? "
            "WHERE day = ? AND bucket = ? AND videoid IN ? AND userid = ?")
        # "Forget me": the viewer's pages of the TTL's days (both layouts), their reach rows.
        self._viewer_pages = prepare(
            f"SELECT day, videoids FROM {keyspace}.impression_pages "
            "WHERE userid = ? AND day IN ?")
        self._viewer_items = prepare(
            f"SELECT day, videoid FROM {keyspace}.impressions WHERE userid = ? AND day IN ?")
        self._forget_pages = prepare(
            f"DELETE FROM {keyspace}.impression_pages WHERE userid = ? AND day IN ?")
        self._forget_items = prepare(
            f"DELETE FROM {keyspace}.impressions WHERE userid = ? AND day IN ?")
        self._forget_shown = prepare(
            f"DELETE FROM {keyspace}.video_impressions_by_day "
            "WHERE day = ? AND bucket = ? AND videoid IN ? AND userid = ?")
        # One partition per query: an aggregate over an IN of partitions draws a server
        # warning, and a partition at a time keeps each request small.
        self._videos_shown = prepare(
            f"SELECT videoid FROM {keyspace}.video_impressions_by_day "
            "WHERE day = ? AND bucket = ? GROUP BY videoid")  # one row per video
        self._video_day = prepare(
            f"SELECT sum(collection_count(pages)) AS shown, count(*) AS viewers "
            f"FROM {keyspace}.video_impressions_by_day "
            "WHERE day = ? AND bucket = ? AND videoid = ?")
        self._add = prepare(
            f"UPDATE {keyspace}.recommendation_daily SET value = value + ? "
            "WHERE day = ? AND shard = ? AND source = ? AND variant = ? AND metric = ?")
        self._daily = prepare(
            f"SELECT day, source, variant, metric, value FROM {keyspace}.recommendation_daily "
            "WHERE day = ? AND shard IN ?")

    async def record(self, impression: Impression, ttl_s: int, bucket: int) -> None:
        """Idempotent (the row and set elements are keyed by the page), so safe to retry."""
        day = day_of(impression.served_at)
        page = {impression.recommendation_id}
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        batch.add(self._insert, _page_row(impression, day, ttl_s))
        batch.add(self._shown, (ttl_s, page, day, bucket,
                                [item.video_id for item in impression.items], impression.user_id))
        await execute(self.session, batch, None, WRITE_EXECUTION)

    async def item_pages_in_token_range(self, start: int, end: int
                                        ) -> list[tuple[Impression, int]]:
        """The pages of cql/0010's item rows whose partition token is in (start, end], each
        with the seconds its rows have left to live."""
        pages: dict[tuple, list] = {}
        for r in await execute(self.session, self._item_rows, (start, end)):
            pages.setdefault((r.userid, r.day, r.recommendation_id), []).append(r)
        return [(Impression(user, page, tuple(ShownItem(r.videoid, r.position) for r in
                                              sorted(rows, key=lambda r: r.position)),
                            rows[0].source, rows[0].variant, rows[0].experiment_id),
                 min(r.ttl or 0 for r in rows))
                for (user, _, page), rows in pages.items()]

    async def record_page(self, impression: Impression, ttl_s: int) -> None:
        """The page's own row alone (its videos' rows by day exist already)."""
        await execute(self.session, self._insert,
                      _page_row(impression, day_of(impression.served_at), ttl_s),
                      WRITE_EXECUTION)

    async def forget(self, user_id: uuid.UUID, days: Sequence[date], bucket: int) -> int:
        """Delete the viewer's pages of these days and their rows in the reach table;
        returns how many videos' rows were deleted. Idempotent."""
        every = list(days)
        pages, items = await asyncio.gather(
            execute(self.session, self._viewer_pages, (user_id, every)),
            execute(self.session, self._viewer_items, (user_id, every)))
        shown: dict[date, set[uuid.UUID]] = {}
        for r in pages:
            shown.setdefault(r.day.date(), set()).update(SHARED.uuids_of(r.videoids or b""))
        for r in items:
            shown.setdefault(r.day.date(), set()).add(r.videoid)
        await asyncio.gather(*(
            execute(self.session, self._forget_shown, (day, bucket, list(videos), user_id),
                    WRITE_EXECUTION) for day, videos in shown.items()))
        # The pages last: a retry after a failure above still finds what to delete.
        await asyncio.gather(
            execute(self.session, self._forget_pages, (user_id, every), WRITE_EXECUTION),
            execute(self.session, self._forget_items, (user_id, every), WRITE_EXECUTION))
        return sum(len(videos) for videos in shown.values())

    async def videos_shown(self, day: date, buckets: int) -> list[uuid.UUID]:
        """The videos shown that day, once per bucket that saw them (the server groups a
        bucket's (video, viewer) rows: one row per video crosses the wire)."""
        found = await self._per_partition(
            self._videos_shown, [(day, bucket) for bucket in range(buckets)])
        return [r.videoid for rows in found for r in rows]

    async def video_days(self, video_id: uuid.UUID, days: Sequence[date],
                         buckets: int) -> list[tuple[date, int, int]]:
        """(day, impressions, distinct viewers) of the video, one entry per day and bucket
        that showed it."""
        keys = [(day, bucket) for day in days for bucket in range(buckets)]
        found = await self._per_partition(
            self._video_day, [(day, bucket, video_id) for day, bucket in keys])
        return [(day, r.shown or 0, r.viewers) for (day, _), rows in zip(keys, found)
                for r in rows if r.viewers]

    async def _per_partition(self, statement, values: list[tuple]) -> list[list]:
        """One query per partition, at most PARTITION_READS in flight."""
        gate = asyncio.Semaphore(PARTITION_READS)

        async def one(params: tuple) -> list:
            async with gate:
                return await execute(self.session, statement, params)
        return await asyncio.gather(*(one(params) for params in values))

    async def showing(self, user_id: uuid.UUID, video_id: uuid.UUID, days: Sequence[date],
                      bucket: int, since: datetime, until: datetime) -> list[ImpressionRow]:
        found = await execute(self.session, self._pages_showing,
                              (list(days), bucket, video_id, user_id))
        pages = {r.day: [p for p in r.pages or () if since <= served_at(p) <= until]
                 for r in found}
        reads = await asyncio.gather(*(
            execute(self.session, self._pages, (user_id, day, ids))
            for day, ids in pages.items() if ids))
        return [ImpressionRow(r.recommendation_id, video_id, r.first_position + n, r.source,
                              r.variant, r.experiment_id)
                for rows in reads for r in rows
                for n, shown in enumerate(SHARED.uuids_of(r.videoids or b""))
                if shown == video_id]

    async def newest_shown(self, user_id: uuid.UUID, days: Sequence[date], since: datetime,
                           until: datetime, pages: int) -> list[ShownRow]:
        rows = await execute(self.session, self._newest,
                             (user_id, list(days), since, until, pages))
        if len(days) > 1:
            rows.sort(key=lambda r: -r.recommendation_id.time)
        # The ids through the shared table: a video on many pages is one object.
        return [tuple_new(ShownRow, (r.recommendation_id, video))
                for r in rows[:pages] for video in SHARED.uuids_of(r.videoids or b"")]

    async def add_daily(self, day: date, source: str, variant: str,
                        increments: Mapping[str, int]) -> None:
        """Counter increments: not idempotent, so never re-sent after a failure."""
        shard = random.randrange(DAILY_SHARDS)
        batch = BatchStatement(batch_type=BatchType.COUNTER)
        for metric, value in increments.items():
            if value:
                batch.add(self._add, (value, day, shard, source, variant, metric))
        if len(batch):
            await execute(self.session, batch, None, WRITE_EXECUTION)

    async def daily(self, days: Sequence[date]) -> list[DailyRow]:
        """Every counter of these days, summed over shards."""
        shards = list(range(DAILY_SHARDS))
        results = await asyncio.gather(*(execute(self.session, self._daily, (day, shards))
                                         for day in days))
        totals: dict[tuple[date, str, str, str], int] = {}
        for rows in results:
            for r in rows:
                key = (r.day.date(), r.source, r.variant, r.metric)
                totals[key] = totals.get(key, 0) + (r.value or 0)
        return [(*key, value) for key, value in sorted(totals.items())]
