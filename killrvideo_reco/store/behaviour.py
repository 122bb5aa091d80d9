"""CQL for the behaviour space: the two vector slots of videos, candidate queries that
return ranking features, and the training runs with the pointer to the live one.

Every query names one slot; the caller passes the live run's slot, and rows whose
`behaviour_<slot>_run` is another run are never used as that run's vectors."""
from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from functools import partial

import numpy as np
from cassandra.cluster import Session

from killrvideo_reco.domain.behaviour import SLOTS
from killrvideo_reco.domain.models import BehaviourRun, PopularPool, RunRecord
from killrvideo_reco.domain.ranking import FeedCandidate, RankerWeights
from killrvideo_reco.domain.vectors import unit_rows
from killrvideo_reco.store.aio import execute
from killrvideo_reco.store.bulk import execute_many
from killrvideo_reco.store.connection import WRITE_EXECUTION
from killrvideo_reco.store.connection import prepare as prepare_statement
from killrvideo_reco.store.errors import translated
from killrvideo_reco.store.uuid_codec import SHARED

ACTIVE_RUN_KEY = "behaviour_run"  # service_metadata: id of the live training run
IN_CHUNK = 100


def _cos(value) -> float:
    # similarity_cosine returns (1 + cos) / 2, or null where the row has no vector.
    return 0.0 if value is None else 2.0 * float(value) - 1.0


_UNIX_EPOCH = datetime(1970, 1, 1)


def _epoch(when: datetime | None) -> float | None:
    # The driver returns naive UTC datetimes; subtracting is a third of timestamp()'s cost.
    return None if when is None else (when - _UNIX_EPOCH).total_seconds()


def _uuids(blob: bytes | None) -> tuple[uuid.UUID, ...]:
    return SHARED.uuids_of(blob or b"")


class BehaviourStore:
    def __init__(self, session: Session, keyspace: str):
        self.session = session
        ks, prepare = keyspace, partial(prepare_statement, session)
        self._ann: dict[tuple[str, str, bool], object] = {}  # (slot, space, with b)
        self._ann_ids: dict[tuple[str, str], object] = {}  # (slot, space)
        self._pool: dict[str, object] = {}
        self._set_video: dict[str, object] = {}
        for slot in SLOTS:
            # Ids, features and what shaping needs; summaries are read for the page alone.
            head = (f"SELECT videoid, popularity_{slot} AS popularity, behaviour_{slot}_run AS run"
                    ", userid, added_date")
            # The content cosine is computed in the app from the returned embedding, so
            # Cassandra computes only the behaviour cosine (whose vector is not returned).
            b_col = f", similarity_cosine(behaviour_{slot}, ?) AS b"
            self._ann[(slot, "behaviour", True)] = prepare(
                f"{head}{b_col}, content_features "
                f"FROM {ks}.videos ORDER BY behaviour_{slot} ANN OF ? LIMIT ?")
            for with_behaviour in (True, False):
                self._ann[(slot, "content", with_behaviour)] = prepare(
                    f"{head}{b_col if with_behaviour else ''}, content_features "
                    f"FROM {ks}.videos ORDER BY content_features ANN OF ? LIMIT ?")
            # Ids alone, in order: the feed reads the rows' features from its cache.
            for space, column in (("behaviour", f"behaviour_{slot}"),
                                  ("content", "content_features")):
                self._ann_ids[(slot, space)] = prepare(
                    f"SELECT videoid FROM {ks}.videos ORDER BY {column} ANN OF ? LIMIT ?")
            self._pool[slot] = prepare(
                f"{head}, behaviour_{slot} AS vector, content_features FROM {ks}.videos "
                "WHERE videoid IN ?")
            self._set_video[slot] = prepare(
                f"UPDATE {ks}.videos SET behaviour_{slot} = ?, behaviour_{slot}_run = ?, "
                f"popularity_{slot} = ? WHERE videoid = ?")
        self._content_scan = prepare(f"SELECT videoid, content_features FROM {ks}.videos")
        self._get_active = prepare(f"SELECT value FROM {ks}.service_metadata WHERE name = ?")
        self._set_active = prepare(
            f"INSERT INTO {ks}.service_metadata (name, value) VALUES (?, ?)")
        self._get_run = prepare(
            f"SELECT run_id, slot, status, dimension, max_norm, ranker, content_map, popular, "
            "query_map "
            f"FROM {ks}.training_runs WHERE run_id = ?")
        self._save_run = prepare(
            f"INSERT INTO {ks}.training_runs (run_id, slot, status, started_at, finished_at, "
            "dimension, max_norm, ranker, content_map, popular, quality, query_map) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        # Runs are few (one a day): the whole table, bounded, is the operators' list.
        self._runs_query = prepare(
            f"SELECT run_id, status, started_at, finished_at, dimension, quality "
            f"FROM {ks}.training_runs LIMIT ?")
        self._set_status = prepare(
            f"UPDATE {ks}.training_runs SET status = ?, finished_at = ? WHERE run_id = ?")

    # --- candidates ---------------------------------------------------------------

    async def nearest(self, run: BehaviourRun, space: str, behaviour_query: np.ndarray | None,
                      content_query: np.ndarray | None, limit: int,
                      ann_query: np.ndarray | None = None) -> list[FeedCandidate]:
        """ANN candidates in `space` ('behaviour' or 'content'), with both features.
        `ann_query` (default: the space's own query) is the vector searched for, e.g. one
        interest's medoid; the features stay cosines to the viewer's two queries."""
        own = behaviour_query if space == "behaviour" else content_query
        ann = own if ann_query is None else ann_query
        with_behaviour = behaviour_query is not None
        params = (behaviour_query, ann, limit) if with_behaviour else (ann, limit)
        rows = await execute(self.session, self._ann[(run.slot, space, with_behaviour)], params)
        source = space if ann_query is None else "interest"
        return self._candidates(rows, run, source, content_query)

    async def nearest_ids(self, run: BehaviourRun, space: str, query: np.ndarray,
                          limit: int) -> list[uuid.UUID]:
        """The `limit` videos nearest `query` in `space`, nearest first: ids only, the
        cheapest ANN query (each returned vector costs Cassandra and the driver)."""
        rows = await execute(self.session, self._ann_ids[(run.slot, space)], (query, limit))
        return [row.videoid for row in rows]

    async def popular_pool(self, run: BehaviourRun,
                           video_ids: Sequence[uuid.UUID]) -> PopularPool:
        """The vectors and popularity of given videos (the popular pool), read once and
        cached by the caller, so ranking them costs no query per request."""
        chunks = [list(video_ids[i:i + IN_CHUNK]) for i in range(0, len(video_ids), IN_CHUNK)]
        results = await asyncio.gather(*(execute(self.session, self._pool[run.slot], (chunk,))
                                         for chunk in chunks))
        rows = {row.videoid: row for rows in results for row in rows
                if row.content_features is not None}
        ids = tuple(v for v in video_ids if v in rows)
        width = run.dimension + 1
        behaviour = np.zeros((len(ids), width), dtype=np.float32)
        content = np.zeros((len(ids), 0), dtype=np.float32)
        popularity = np.zeros(len(ids), dtype=np.float32)
        for n, video_id in enumerate(ids):
            row = rows[video_id]
            if row.run == run.run_id and row.vector is not None:
                behaviour[n] = row.vector
                popularity[n] = row.popularity or 0.0
        if ids:
            content = unit_rows(np.stack([np.asarray(rows[v].content_features,
                                                     dtype=np.float32) for v in ids]))
        return PopularPool(ids, behaviour, content, popularity,
                           tuple(rows[v].userid for v in ids),
                           tuple(_epoch(rows[v].added_date) for v in ids))

    @staticmethod
    def _candidates(rows, run: BehaviourRun, source: str,
                    content_query: np.ndarray | None) -> list[FeedCandidate]:
        """One FeedCandidate per row; the rows' embeddings are normalised and scored
        against the content query as one matrix, not row by row."""
        rows = list(rows)
        present = [n for n, row in enumerate(rows) if row.content_features is not None]
        embeddings: list[np.ndarray | None] = [None] * len(rows)
        content = np.zeros(len(rows))
        if present:
            units = unit_rows(np.stack([np.asarray(rows[n].content_features, dtype=np.float32)
                                        for n in present]))
            usable = np.asarray(units.any(axis=1), dtype=bool)
            cosines = units @ content_query if content_query is not None else None
            for k, n in enumerate(present):
                if usable[k]:
                    embeddings[n] = units[k]
                    if cosines is not None:
                        content[n] = float(cosines[k])
        out = []
        for n, row in enumerate(rows):
            live = row.run == run.run_id  # another run's vector in this slot: no feature
            out.append(FeedCandidate(
                row.videoid, _cos(getattr(row, "b", None)) if live else 0.0, float(content[n]),
                float(row.popularity or 0.0) if live else 0.0, frozenset((source,)),
                embeddings[n], row.userid, _epoch(row.added_date)))
        return out

    # --- writes by the training job ---------------------------------------------------

    async def write_videos(self, slot: str, run_id: str,
                           rows: Sequence[tuple[uuid.UUID, np.ndarray, float]]) -> None:
        """(video id, index vector, popularity) for one slot: a bulk write."""
        values = [(vector, run_id, float(pop), video_id) for video_id, vector, pop in rows]
        await asyncio.to_thread(execute_many, self.session, self._set_video[slot], values)

    async def write_video(self, slot: str, run_id: str, video_id: uuid.UUID,
                          vector: np.ndarray, popularity: float = 0.0) -> None:
        await execute(self.session, self._set_video[slot],
                      (vector, run_id, popularity, video_id), WRITE_EXECUTION)

    async def content_vectors(self) -> tuple[list[uuid.UUID], np.ndarray | None]:
        """Every video's content embedding (training): a paged scan in a worker thread."""
        def scan() -> tuple[list[uuid.UUID], np.ndarray | None]:
            ids, vectors = [], []
            with translated():
                for row in self.session.execute(self._content_scan, timeout=120):
                    if row.content_features is not None:
                        ids.append(row.videoid)
                        vectors.append(np.asarray(row.content_features, dtype=np.float32))
            return ids, (np.vstack(vectors) if vectors else None)
        return await asyncio.to_thread(scan)

    # --- training runs -------------------------------------------------------------

    async def active_run(self) -> BehaviourRun | None:
        rows = await execute(self.session, self._get_active, (ACTIVE_RUN_KEY,))
        return await self.run(rows[0].value) if rows and rows[0].value else None

    async def run(self, run_id: str) -> BehaviourRun | None:
        """The run if it finished and is live or ready to be (complete or active), else None."""
        rows = await execute(self.session, self._get_run, (run_id,))
        if not rows or rows[0].status not in ("complete", "active"):
            return None
        r = rows[0]
        return BehaviourRun(r.run_id, r.slot, r.dimension, r.max_norm,
                            RankerWeights.from_json(r.ranker), r.content_map,
                            _uuids(r.popular), r.query_map)

    async def list_runs(self, limit: int) -> list[RunRecord]:
        """Up to `limit` runs of any status, newest first."""
        rows = await execute(self.session, self._runs_query, (limit,))
        found = [RunRecord(r.run_id, r.status, r.started_at, r.finished_at, r.dimension,
                           json.loads(r.quality) if r.quality else {}) for r in rows]
        return sorted(found, key=lambda r: r.run_id, reverse=True)

    async def save_run(self, run: BehaviourRun, status: str, started_at: datetime,
                       quality_json: str | None) -> None:
        finished = datetime.now(timezone.utc) if status != "training" else None
        await execute(self.session, self._save_run, (
            run.run_id, run.slot, status, started_at, finished, run.dimension, run.max_norm,
            run.ranker.to_json(), run.content_map, b"".join(v.bytes for v in run.popular),
            quality_json, run.query_map), WRITE_EXECUTION)

    async def activate(self, run_id: str, previous: str | None) -> None:
        """The switch readers see: one cell, so they get the old run or the new one."""
        await execute(self.session, self._set_active, (ACTIVE_RUN_KEY, run_id), WRITE_EXECUTION)
        now = datetime.now(timezone.utc)
        await execute(self.session, self._set_status, ("active", now, run_id), WRITE_EXECUTION)
        if previous:
            await execute(self.session, self._set_status, ("retired", now, previous),
                          WRITE_EXECUTION)
