"""CQL for impressions (what viewers were shown) and the daily recommendation counters
(cql/0010_impressions.cql). One page is one single-partition batch; counters of one
event are one counter batch on one shard of their day."""
from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import partial

from cassandra.query import BatchStatement, BatchType

from killrvideo_reco.domain.impressions import Impression, ImpressionRow, day_of
from killrvideo_reco.store.aio import execute
from killrvideo_reco.store.connection import WRITE_EXECUTION, Session
from killrvideo_reco.store.connection import prepare as prepare_statement

# Partitions per day of recommendation_daily: increments spread over them, reads sum them.
DAILY_SHARDS = 8

DailyRow = tuple[date, str, str, str, int]  # (day, source, variant, metric, value)


class ImpressionStore:
    def __init__(self, session: Session, keyspace: str):
        self.session = session
        prepare = partial(prepare_statement, session)
        self._insert = prepare(
            f"INSERT INTO {keyspace}.impressions (userid, day, recommendation_id, videoid, "
            "position, source, variant, experiment_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "USING TTL ?")
        self._recent = prepare(
            f"SELECT recommendation_id, videoid, position, source, variant, experiment_id "
            f"FROM {keyspace}.impressions WHERE userid = ? AND day IN ? "
            "AND recommendation_id >= minTimeuuid(?) AND recommendation_id <= maxTimeuuid(?) "
            "LIMIT ?")
        self._add = prepare(
            f"UPDATE {keyspace}.recommendation_daily SET value = value + ? "
            "WHERE day = ? AND shard = ? AND source = ? AND variant = ? AND metric = ?")
        self._daily = prepare(
            f"SELECT day, source, variant, metric, value FROM {keyspace}.recommendation_daily "
            "WHERE day = ? AND shard IN ?")

    async def record(self, impression: Impression, ttl_s: int) -> None:
        day = day_of(impression.served_at)
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)  # one partition: atomic
        for item in impression.items:
            batch.add(self._insert, (impression.user_id, day, impression.recommendation_id,
                                     item.video_id, item.position, impression.source,
                                     impression.variant, impression.experiment_id, ttl_s))
        await execute(self.session, batch, None, WRITE_EXECUTION)

    async def recent(self, user_id: uuid.UUID, since: datetime, until: datetime,
                     days: Sequence[date], limit: int) -> list[ImpressionRow]:
        rows = await execute(self.session, self._recent,
                             (user_id, list(days), since, until, limit))
        return [ImpressionRow(r.recommendation_id, r.videoid, r.position, r.source, r.variant,
                              r.experiment_id) for r in rows]

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
