"""CQL for viewers: history, hides, the taste profile (its state and its read model), view
counts. Taste states and recent-video lists are (de)serialised here: callers see domain
objects, never blobs."""
from __future__ import annotations

import asyncio
import logging
import uuid
import zlib
from collections.abc import Callable, Sequence
from datetime import date, datetime, timezone
from functools import partial

import numpy as np
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Session
from cassandra.query import BatchStatement, BatchType

from killrvideo_reco.domain.behaviour import SLOTS
from killrvideo_reco.domain.models import (
    HistoryRow,
    ProfileReferences,
    ProfileStamp,
    StoredProfile,
    TasteChange,
    TasteRecord,
)
from killrvideo_reco.domain.profile_refs import decode_references, encode_references
from killrvideo_reco.domain.taste_profile import ChannelSum
from killrvideo_reco.domain.view_counts import ViewCount, merged_counts
from killrvideo_reco.domain.viewer_nearest import ViewerNearest
from killrvideo_reco.store.aio import execute
from killrvideo_reco.store.bulk import execute_many
from killrvideo_reco.store.connection import WRITE_EXECUTION
from killrvideo_reco.store.connection import prepare as prepare_statement
from killrvideo_reco.store.rows import SLOT_COLUMNS, as_utc, slot_vectors
from killrvideo_reco.store.taste_states import (
    HISTORY_COLUMNS,
    TasteStates,
    history_from_row,
    is_history,
)

log = logging.getLogger(__name__)
# Clustering-key IN lists are chunked so one query never carries thousands of keys.
IN_CHUNK = 100
NEAREST_COLUMNS = "nearest_run, nearest_depth, nearest_at, nearest_query, nearest_videos"
# A feed's exclusion lookup: one partition, so one statement for a page's few hundred
# candidates costs the node less than several, and the driver a third as much.
SEEN_CHUNK = 500
# Partitions per day of video_views_by_day_bucket (cql/0006). Changing it strands the
# counters already written: it is part of the schema, not a setting.
VIEW_BUCKETS = 16

def view_bucket(video_id: uuid.UUID) -> int:
    """Which of a day's VIEW_BUCKETS partitions counts this video (stable across
    processes and releases: crc32, not Python's salted hash)."""
    return zlib.crc32(video_id.bytes) % VIEW_BUCKETS


def _execution(for_update: bool):
    """Reads that feed a conditional write use the write consistency (LOCAL_QUORUM by
    default), so they see every committed profile change, not a lagging replica."""
    return WRITE_EXECUTION if for_update else EXEC_PROFILE_DEFAULT


class ViewerStore:
    def __init__(self, session: Session, keyspace: str):
        self.session, self.keyspace = session, keyspace
        self._tastes = TasteStates(session, keyspace)
        ks = keyspace
        prepare = partial(prepare_statement, session)
        self._import_watch = prepare(
            f"INSERT INTO {ks}.viewer_history (userid, videoid, first_watched, last_watched, "
            "play_count, seconds_watched, duration_s) VALUES (?, ?, ?, ?, ?, ?, ?)")
        self._seen_among = prepare(
            f"SELECT videoid FROM {ks}.viewer_history WHERE userid = ? AND videoid IN ?")
        self._history = prepare(
            f"SELECT {HISTORY_COLUMNS} FROM {ks}.viewer_history WHERE userid = ?")
        profile_columns = ("userid, preference_vector, model_id, item_count, last_updated, "
                           "recent_positive, interests")
        self._write_prefs = prepare(
            f"INSERT INTO {ks}.user_preferences ({profile_columns}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?")
        self._write_prefs_with = {slot: prepare(
            f"INSERT INTO {ks}.user_preferences ({profile_columns}, behaviour_{slot}, "
            f"behaviour_{slot}_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?")
            for slot in SLOTS}
        self._prefs = prepare(
            f"SELECT preference_vector, model_id, item_count, recent_positive, interests, "
            f"WRITETIME(model_id) AS version, {SLOT_COLUMNS}, {NEAREST_COLUMNS} "
            f"FROM {ks}.user_preferences WHERE userid = ?")
        self._stamp = prepare(
            f"SELECT WRITETIME(model_id) AS version, item_count "
            f"FROM {ks}.user_preferences WHERE userid = ?")
        self._write_nearest = prepare(
            f"UPDATE {ks}.user_preferences USING TIMESTAMP ? SET nearest_run = ?, "
            "nearest_depth = ?, nearest_at = ?, nearest_query = ?, nearest_videos = ? "
            "WHERE userid = ?")
        self._write_behaviour = {slot: prepare(
            f"UPDATE {ks}.user_preferences USING TIMESTAMP ? SET behaviour_{slot} = ?, "
            f"behaviour_{slot}_run = ? WHERE userid = ?") for slot in SLOTS}
        self._count_day = prepare(
            f"UPDATE {ks}.video_views_by_day_bucket SET views = views + ? "
            "WHERE day = ? AND bucket = ? AND videoid = ?")
        self._count_total = prepare(
            f"UPDATE {ks}.video_view_counts SET views = views + ? WHERE videoid = ?")
        self._total_views = prepare(
            f"SELECT videoid, views FROM {ks}.video_view_counts WHERE videoid IN ?")
        self._views_on = prepare(
            f"SELECT videoid, views FROM {ks}.video_views_by_day_bucket "
            "WHERE day = ? AND bucket = ?")
        self._history_in_range = prepare(
            f"SELECT userid, {HISTORY_COLUMNS} FROM {ks}.viewer_history "
            "WHERE token(userid) > ? AND token(userid) <= ?")
        self._forget_history = prepare(
            f"DELETE FROM {ks}.viewer_history USING TIMESTAMP ? WHERE userid = ?")
        self._forget_profile = prepare(
            f"DELETE FROM {ks}.user_preferences USING TIMESTAMP ? WHERE userid = ?")
        self._users_in_range = prepare(
            f"SELECT DISTINCT userid FROM {ks}.viewer_history "
            "WHERE token(userid) > ? AND token(userid) <= ?")

    async def seen_among(self, user_id: uuid.UUID, video_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which candidates this viewer watched or hid: single-partition lookups whose
        cost depends on the number of candidates, not on the length of the history."""
        chunks = [list(video_ids[i:i + SEEN_CHUNK])
                  for i in range(0, len(video_ids), SEEN_CHUNK)]
        results = await asyncio.gather(
            *(execute(self.session, self._seen_among, (user_id, chunk)) for chunk in chunks))
        return {row.videoid for rows in results for row in rows}

    async def history(self, user_id: uuid.UUID, for_update: bool = False) -> list[HistoryRow]:
        return [history_from_row(row) for row in await execute(
            self.session, self._history, (user_id,), _execution(for_update)) if is_history(row)]

    async def taste_state(self, user_id: uuid.UUID, for_update: bool = False) -> TasteRecord:
        return await self._tastes.head(user_id, _execution(for_update))

    async def read_for_change(self, user_id: uuid.UUID, video_ids: Sequence[uuid.UUID],
                              channels: Sequence[str]
                              ) -> tuple[TasteRecord, dict[uuid.UUID, HistoryRow]]:
        return await self._tastes.for_change(user_id, video_ids, channels, WRITE_EXECUTION)

    async def rows_for_change(self, user_id: uuid.UUID, video_ids: Sequence[uuid.UUID],
                              channels: Sequence[str], dimension: int
                              ) -> tuple[dict[uuid.UUID, HistoryRow], dict[str, ChannelSum]]:
        return await self._tastes.rows(user_id, video_ids, channels, dimension, WRITE_EXECUTION)

    async def commit(self, change: TasteChange) -> bool:
        return await self._tastes.commit(change)

    async def write_profile(self, user_id: uuid.UUID, vector: np.ndarray | None,
                            model_id: str | None, item_count: int,
                            references: ProfileReferences, version: int,
                            behaviour: tuple[str, str, np.ndarray | None] | None = None) -> None:
        # The version (microseconds) doubles as the write timestamp: out-of-order
        # writers cannot replace a newer profile with an older one.
        values = (user_id, vector, model_id, item_count, datetime.now(timezone.utc),
                  *encode_references(references))
        if behaviour is None:
            await execute(self.session, self._write_prefs, (*values, version), WRITE_EXECUTION)
            return
        slot, run_id, behaviour_vector = behaviour
        await execute(self.session, self._write_prefs_with[slot],
                      (*values, behaviour_vector, run_id, version), WRITE_EXECUTION)

    async def profile(self, user_id: uuid.UUID) -> StoredProfile | None:
        rows = await execute(self.session, self._prefs, (user_id,))
        if not rows:
            return None
        row = rows[0]
        refs, recent, interests = decode_references(row.recent_positive, row.interests)
        return StoredProfile(row.preference_vector, row.model_id, row.item_count or 0, recent,
                             slot_vectors(row), interests, row.version, refs, _nearest(row))

    async def profile_stamp(self, user_id: uuid.UUID) -> ProfileStamp | None:
        rows = await execute(self.session, self._stamp, (user_id,))
        return ProfileStamp(rows[0].version, rows[0].item_count or 0) if rows else None

    async def write_nearest(self, user_id: uuid.UUID, nearest: ViewerNearest,
                            version: int) -> None:
        await execute(self.session, self._write_nearest, (
            version, nearest.run_id, nearest.depth,
            datetime.fromtimestamp(nearest.computed_at, timezone.utc),
            np.asarray(nearest.query, dtype="<f4").tobytes(),
            nearest.packed, user_id), WRITE_EXECUTION)

    async def write_behaviour_many(self, slot: str, run_id: str,
                                   vectors: Sequence[tuple[uuid.UUID, np.ndarray | None]],
                                   version: int) -> None:
        """Bulk write (the training job, before it switches runs)."""
        values = [(version, vector, run_id, user_id) for user_id, vector in vectors]
        await asyncio.to_thread(execute_many, self.session, self._write_behaviour[slot], values)

    async def count_view(self, video_id: uuid.UUID, day: date, new_viewer_today: bool) -> None:
        await self.count_views([ViewCount(video_id, day, new_viewer_today)])

    async def count_views(self, counts: Sequence[ViewCount]) -> None:
        """Several views' increments in one round trip, one per counter (a counter batch
        is not atomic, nor must it be)."""
        totals, days = merged_counts(counts)
        batch = BatchStatement(batch_type=BatchType.COUNTER)
        for (day, video_id), n in days.items():
            batch.add(self._count_day, (n, day, view_bucket(video_id), video_id))
        for video_id, n in totals.items():
            batch.add(self._count_total, (n, video_id))
        if totals:
            await execute(self.session, batch, None, WRITE_EXECUTION)

    async def total_views(self, video_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """All-time views of these videos (videos never viewed are absent)."""
        chunks = [list(video_ids[i:i + IN_CHUNK]) for i in range(0, len(video_ids), IN_CHUNK)]
        results = await asyncio.gather(
            *(execute(self.session, self._total_views, (chunk,)) for chunk in chunks))
        return {row.videoid: row.views for rows in results for row in rows}

    async def views_on(self, day: date) -> list[tuple[uuid.UUID, int]]:
        buckets = await asyncio.gather(*(execute(self.session, self._views_on, (day, bucket))
                                         for bucket in range(VIEW_BUCKETS)))
        return [(row.videoid, row.views) for rows in buckets for row in rows]

    async def history_in_token_range(self, start: int, end: int
                                     ) -> list[tuple[uuid.UUID, HistoryRow]]:
        """Every history row of the viewers whose token is in (start, end] (training)."""
        rows = await execute(self.session, self._history_in_range, (start, end))
        return [(row.userid, history_from_row(row)) for row in rows if is_history(row)]

    async def users_in_token_range(self, start: int, end: int) -> list[uuid.UUID]:
        """Viewers whose partition token is in (start, end]: batch jobs scan the ring."""
        rows = await execute(self.session, self._users_in_range, (start, end))
        return [row.userid for row in rows]

    async def forget(self, user_id: uuid.UUID, at_us: int) -> None:
        """Delete every per-viewer row, both or neither (logged batch): the history
        partition (history, hides, event ids, taste state) and the read model. Writes
        stamped after `at_us` (a view committed later) survive, as a new history."""
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        batch.add(self._forget_history, (at_us, user_id))
        batch.add(self._forget_profile, (at_us, user_id))
        await execute(self.session, batch, None, WRITE_EXECUTION)

    async def import_watches(self, user_id_rows: Sequence[tuple[uuid.UUID, HistoryRow]],
                             on_done: Callable[[int], None] | None = None) -> int:
        """Bulk-write watch rows without touching taste states (seeding and evaluation;
        a profile rebuild follows). Rows that time out are re-sent."""
        values = [(user_id, r.video_id, r.first_watched, r.last_watched, r.play_count,
                   r.seconds_watched, r.duration_s) for user_id, r in user_id_rows]
        await asyncio.to_thread(execute_many, self.session, self._import_watch, values, on_done)
        return len(values)


def _nearest(row) -> ViewerNearest | None:
    if row.nearest_run is None or row.nearest_query is None or row.nearest_at is None:
        return None
    computed = as_utc(row.nearest_at)
    assert computed is not None
    return ViewerNearest(row.nearest_run, row.nearest_depth or 0, computed.timestamp(),
                         np.frombuffer(row.nearest_query, dtype="<f4").astype(np.float32),
                         row.nearest_videos or b"")
