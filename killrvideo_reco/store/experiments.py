"""CQL for experiments (cql/0011_experiments.cql): their records, and the per-viewer and
per-variant counters their results are read from."""
from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping
from dataclasses import asdict
from datetime import timezone
from functools import partial

from cassandra.query import BatchStatement, BatchType

from killrvideo_reco.domain.experiments import Experiment, Variant, bucket
from killrvideo_reco.store.aio import execute
from killrvideo_reco.store.connection import WRITE_EXECUTION, Session
from killrvideo_reco.store.connection import prepare as prepare_statement
from killrvideo_reco.store.rows import as_utc

SCOPE = "all"
VIEWER_SHARDS = 16
ViewerRow = tuple[str, uuid.UUID, int, int, int]  # variant, viewer, impressions, clicks, watch s


class ExperimentStore:
    def __init__(self, session: Session, keyspace: str):
        self.session = session
        prepare = partial(prepare_statement, session)
        columns = "experiment_id, name, salt, status, variants, created_at, started_at, stopped_at"
        self._save = prepare(f"INSERT INTO {keyspace}.experiments (scope, {columns}) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        self._all = prepare(f"SELECT {columns} FROM {keyspace}.experiments WHERE scope = ?")
        self._one = prepare(f"SELECT {columns} FROM {keyspace}.experiments "
                            "WHERE scope = ? AND experiment_id = ?")
        self._add_viewer = prepare(
            f"UPDATE {keyspace}.experiment_viewers SET impressions = impressions + ?, "
            "clicks = clicks + ?, watch_seconds = watch_seconds + ? "
            "WHERE experiment_id = ? AND shard = ? AND variant = ? AND userid = ?")
        self._viewers = prepare(
            f"SELECT variant, userid, impressions, clicks, watch_seconds "
            f"FROM {keyspace}.experiment_viewers WHERE experiment_id = ? AND shard = ?")
        self._add_request = prepare(
            f"UPDATE {keyspace}.experiment_requests SET value = value + ? "
            "WHERE experiment_id = ? AND variant = ? AND metric = ?")
        self._requests = prepare(
            f"SELECT variant, metric, value FROM {keyspace}.experiment_requests "
            "WHERE experiment_id = ?")

    async def save(self, e: Experiment) -> None:
        await execute(self.session, self._save, (
            SCOPE, e.experiment_id, e.name, e.salt, e.status,
            json.dumps([asdict(v) for v in e.variants]), e.created_at, e.started_at,
            e.stopped_at), WRITE_EXECUTION)

    async def all(self) -> list[Experiment]:
        return [_experiment(r) for r in await execute(self.session, self._all, (SCOPE,))]

    async def get(self, experiment_id: uuid.UUID) -> Experiment | None:
        rows = await execute(self.session, self._one, (SCOPE, experiment_id))
        return _experiment(rows[0]) if rows else None

    async def add_viewer(self, experiment_id: uuid.UUID, variant: str, user_id: uuid.UUID,
                         impressions: int, clicks: int, watch_seconds: int) -> None:
        """Counter increments: not idempotent, so never re-sent after a failure."""
        await execute(self.session, self._add_viewer, (
            impressions, clicks, watch_seconds, experiment_id,
            bucket(str(experiment_id), user_id) % VIEWER_SHARDS, variant, user_id),
            WRITE_EXECUTION)

    async def viewers(self, experiment_id: uuid.UUID) -> list[ViewerRow]:
        results = await asyncio.gather(*(execute(self.session, self._viewers,
                                                 (experiment_id, shard))
                                         for shard in range(VIEWER_SHARDS)))
        return [(r.variant, r.userid, r.impressions or 0, r.clicks or 0, r.watch_seconds or 0)
                for rows in results for r in rows]

    async def add_requests(self, experiment_id: uuid.UUID, variant: str,
                           increments: Mapping[str, int]) -> None:
        batch = BatchStatement(batch_type=BatchType.COUNTER)
        for metric, value in increments.items():
            batch.add(self._add_request, (value, experiment_id, variant, metric))
        await execute(self.session, batch, None, WRITE_EXECUTION)

    async def requests(self, experiment_id: uuid.UUID) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        for r in await execute(self.session, self._requests, (experiment_id,)):
            found.setdefault(r.variant, {})[r.metric] = r.value or 0
        return found


def _experiment(r) -> Experiment:
    variants = tuple(Variant(v["name"], v["percent"], v.get("overrides") or {})
                     for v in json.loads(r.variants))
    return Experiment(r.experiment_id, r.name, r.salt, variants, r.status,
                      r.created_at.replace(tzinfo=timezone.utc), as_utc(r.started_at), as_utc(r.stopped_at))
