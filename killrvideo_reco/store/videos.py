"""CQL for the catalogue: videos, their vectors, the ANN search and the 'latest' listing.
Every statement is prepared once, when the store is built."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from functools import partial

import numpy as np
from cassandra.cluster import Session
from cassandra.query import UNSET_VALUE

from killrvideo_reco.domain.models import Candidate, NewVideo, VideoDetails, VideoFacts, VideoSummary
from killrvideo_reco.store.aio import execute
from killrvideo_reco.store.connection import WRITE_EXECUTION
from killrvideo_reco.store.connection import prepare as prepare_statement
from killrvideo_reco.store.errors import translated
from killrvideo_reco.store.rows import SLOT_COLUMNS, as_utc, slot_vectors

SUMMARY_COLUMNS = "videoid, name, thumbnail_url, description, tags, added_date, userid"
FACTS_COLUMNS = ("videoid, name, userid, duration_s, content_features, embedding_model, "
                 + SLOT_COLUMNS)
MODEL_KEY = "embedding_model"
FACTS_CHUNK = 50
# The 'latest' listing looks this many month buckets back before scanning any videos.
LATEST_MONTHS_BACK = 24


def _unset_if_none(value):
    # Binding None writes a tombstone per empty column; UNSET writes nothing.
    return UNSET_VALUE if value is None else value


def month_bucket(moment: datetime) -> str:
    """latest_videos is partitioned by month, so no partition grows without bound."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m")


def _details_from_row(row) -> VideoDetails:
    return VideoDetails(summary_from_row(row), row.category, row.duration_s, row.embedding_model)


def _facts_from_row(row) -> VideoFacts:
    vector = None if row.content_features is None else np.asarray(row.content_features,
                                                                  dtype=np.float32)
    behaviour = slot_vectors(row, lambda v: np.asarray(v, dtype=np.float32))
    return VideoFacts(row.videoid, row.name or "", row.userid,
                      float(row.duration_s) if row.duration_s else None, vector,
                      row.embedding_model, behaviour)


def summary_from_row(row) -> VideoSummary:
    return VideoSummary(
        video_id=row.videoid, title=row.name or "", thumbnail_url=row.thumbnail_url,
        description=row.description, tags=tuple(sorted(row.tags or ())),
        added_date=as_utc(row.added_date), uploader_id=row.userid)



class VideoStore:
    def __init__(self, session: Session, keyspace: str):
        self.session = session
        ks = keyspace
        prepare = partial(prepare_statement, session)
        self._insert = prepare(
            f"INSERT INTO {ks}.videos (videoid, userid, name, description, tags, thumbnail_url, "
            "added_date, category, duration_s, content_features, embedding_model) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        self._insert_latest = prepare(
            f"INSERT INTO {ks}.latest_videos (month, added_date, videoid) VALUES (?, ?, ?)")
        self._get_summary = prepare(
            f"SELECT {SUMMARY_COLUMNS}, category, duration_s, embedding_model "
            f"FROM {ks}.videos WHERE videoid = ?")
        self._get_facts = prepare(f"SELECT {FACTS_COLUMNS} FROM {ks}.videos WHERE videoid = ?")
        self._get_facts_many = prepare(
            f"SELECT {FACTS_COLUMNS} FROM {ks}.videos WHERE videoid IN ?")
        self._get_summaries = prepare(
            f"SELECT {SUMMARY_COLUMNS} FROM {ks}.videos WHERE videoid IN ?")
        self._get_vectors = prepare(
            f"SELECT videoid, content_features FROM {ks}.videos WHERE videoid IN ?")
        # Only summary columns and the score: deserialising vectors is slow in the driver.
        self._ann = prepare(
            f"SELECT {SUMMARY_COLUMNS}, similarity_cosine(content_features, ?) AS similarity "
            f"FROM {ks}.videos ORDER BY content_features ANN OF ? LIMIT ?")
        self._latest = prepare(
            f"SELECT videoid FROM {ks}.latest_videos WHERE month = ? LIMIT ?")
        self._scan = prepare(f"SELECT {SUMMARY_COLUMNS} FROM {ks}.videos LIMIT ?")
        self._ids = prepare(f"SELECT videoid FROM {ks}.videos")
        self._get_meta = prepare(f"SELECT value FROM {ks}.service_metadata WHERE name = ?")
        self._set_meta = prepare(f"INSERT INTO {ks}.service_metadata (name, value) VALUES (?, ?)")
        self._all_details = prepare(
            f"SELECT {SUMMARY_COLUMNS}, category, duration_s, embedding_model FROM {ks}.videos")
        self._set_vector = prepare(
            f"UPDATE {ks}.videos SET content_features = ?, embedding_model = ? WHERE videoid = ?")

    async def add(self, video: NewVideo) -> None:
        await execute(self.session, self._insert, tuple(_unset_if_none(value) for value in (
            video.video_id, video.uploader_id, video.title, video.description,
            set(video.tags) or None, video.thumbnail_url, video.added_date, video.category,
            video.duration_s, video.content_features, video.embedding_model)), WRITE_EXECUTION)
        await execute(self.session, self._insert_latest,
                      (month_bucket(video.added_date), video.added_date, video.video_id),
                      WRITE_EXECUTION)

    async def details(self, video_id: uuid.UUID) -> VideoDetails | None:
        rows = await execute(self.session, self._get_summary, (video_id,))
        return _details_from_row(rows[0]) if rows else None

    async def facts(self, video_id: uuid.UUID) -> VideoFacts | None:
        rows = await execute(self.session, self._get_facts, (video_id,))
        return _facts_from_row(rows[0]) if rows else None

    async def facts_many(self, video_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, VideoFacts]:
        """Facts for many videos, a bounded IN query at a time (batch jobs)."""
        found: dict[uuid.UUID, VideoFacts] = {}
        for start in range(0, len(video_ids), FACTS_CHUNK):
            chunk = list(video_ids[start:start + FACTS_CHUNK])
            for row in await execute(self.session, self._get_facts_many, (chunk,)):
                found[row.videoid] = _facts_from_row(row)
        return found

    async def summaries(self, video_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, VideoSummary]:
        if not video_ids:
            return {}
        rows = await execute(self.session, self._get_summaries, (list(video_ids),))
        return {row.videoid: summary_from_row(row) for row in rows}

    async def vectors(self, video_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, np.ndarray]:
        if not video_ids:
            return {}
        rows = await execute(self.session, self._get_vectors, (list(video_ids),))
        return {row.videoid: np.asarray(row.content_features, dtype=np.float32)
                for row in rows if row.content_features is not None}

    async def nearest(self, query: np.ndarray, limit: int) -> list[Candidate]:
        """ANN candidates, best first; score is cosine similarity in [-1, 1]."""
        rows = await execute(self.session, self._ann, (query, query, limit))
        # similarity_cosine returns (1 + cos) / 2; convert back to cos.
        return [Candidate(summary_from_row(row), 2.0 * row.similarity - 1.0) for row in rows]

    async def latest_ids(self, limit: int, now: datetime | None = None) -> list[uuid.UUID]:
        """Newest videos first, month bucket by month bucket, at most LATEST_MONTHS_BACK."""
        ids: list[uuid.UUID] = []
        month = (now or datetime.now(timezone.utc)).replace(day=1)
        for _ in range(LATEST_MONTHS_BACK):
            rows = await execute(self.session, self._latest,
                                 (month_bucket(month), limit - len(ids)))
            ids.extend(row.videoid for row in rows)
            if len(ids) >= limit:
                break
            month = (month - timedelta(days=1)).replace(day=1)
        return ids

    async def any_summaries(self, limit: int) -> list[VideoSummary]:
        return [summary_from_row(row) for row in await execute(self.session, self._scan, (limit,))]

    async def catalogue_model(self) -> str | None:
        rows = await execute(self.session, self._get_meta, (MODEL_KEY,))
        return rows[0].value if rows else None

    async def set_catalogue_model(self, model_id: str) -> None:
        await execute(self.session, self._set_meta, (MODEL_KEY, model_id), WRITE_EXECUTION)

    async def count(self) -> int:
        """How many videos the catalogue holds: a paged scan of the partition keys (one
        request per 5000 videos), so callers cache it."""
        return len(await execute(self.session, self._ids))

    async def scan_details(self) -> list[VideoDetails]:
        """Every video (batch jobs only): a paged scan in a worker thread."""
        def scan() -> list[VideoDetails]:
            with translated():
                return [_details_from_row(row)
                        for row in self.session.execute(self._all_details, timeout=60)]
        return await asyncio.to_thread(scan)

    async def set_vector(self, video_id: uuid.UUID, vector: np.ndarray, model_id: str) -> None:
        await execute(self.session, self._set_vector, (vector, model_id, video_id), WRITE_EXECUTION)
