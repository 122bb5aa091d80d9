"""CQL for viewers: history, hides, the taste-profile state and its read model, view counts."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timezone
from typing import NamedTuple

import numpy as np
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Session
from cassandra.query import BatchStatement, BatchType

from killrvideo_reco.domain.models import HistoryRow, StoredPreferences
from killrvideo_reco.store.aio import execute
from killrvideo_reco.store.connection import WRITE_PROFILE
from killrvideo_reco.store.rows import as_utc

# Clustering-key IN lists are chunked so one query never carries thousands of keys.
IN_CHUNK = 100
HISTORY_COLUMNS = ("videoid, first_watched, last_watched, play_count, seconds_watched, "
                   "duration_s, hidden_at, event_ids")


class StoredTaste(NamedTuple):
    version: int | None
    state: bytes | None
    model_id: str | None



def _profile(for_update: bool):
    """Reads that feed a conditional write use the write consistency (LOCAL_QUORUM by
    default), so they see every committed profile change, not a lagging replica."""
    return WRITE_PROFILE if for_update else EXEC_PROFILE_DEFAULT


def history_from_row(row) -> HistoryRow:
    return HistoryRow(
        video_id=row.videoid, first_watched=as_utc(row.first_watched),
        last_watched=as_utc(row.last_watched), play_count=row.play_count or 0,
        seconds_watched=row.seconds_watched or 0.0, duration_s=row.duration_s,
        hidden_at=as_utc(row.hidden_at), event_ids=frozenset(row.event_ids or ()))


class ViewerStore:
    def __init__(self, session: Session, keyspace: str):
        self.session = session
        ks = keyspace
        prepare = session.prepare
        self._seen_among = prepare(
            f"SELECT videoid FROM {ks}.viewer_history WHERE userid = ? AND videoid IN ?")
        self._history_row = prepare(
            f"SELECT {HISTORY_COLUMNS} FROM {ks}.viewer_history WHERE userid = ? AND videoid = ?")
        self._history = prepare(
            f"SELECT {HISTORY_COLUMNS} FROM {ks}.viewer_history WHERE userid = ?")
        self._taste = prepare(
            f"SELECT taste_version, taste_state, taste_model FROM {ks}.viewer_history "
            "WHERE userid = ? LIMIT 1")
        self._cas_taste = prepare(
            f"UPDATE {ks}.viewer_history SET taste_version = ?, taste_state = ?, taste_model = ? "
            "WHERE userid = ? IF taste_version = ?")
        self._write_row = prepare(
            f"UPDATE {ks}.viewer_history SET first_watched = ?, last_watched = ?, play_count = ?, "
            "seconds_watched = ?, duration_s = ?, hidden_at = ?, event_ids = event_ids + ? "
            "WHERE userid = ? AND videoid = ?")
        self._write_prefs = prepare(
            f"INSERT INTO {ks}.user_preferences (userid, preference_vector, model_id, item_count, "
            "last_updated, recent_positive) VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?")
        self._prefs = prepare(
            f"SELECT preference_vector, model_id, item_count, recent_positive "
            f"FROM {ks}.user_preferences WHERE userid = ?")
        self._count_day = prepare(
            f"UPDATE {ks}.video_views_by_day SET views = views + 1 WHERE day = ? AND videoid = ?")
        self._count_total = prepare(
            f"UPDATE {ks}.video_view_counts SET views = views + 1 WHERE videoid = ?")
        self._views_on = prepare(
            f"SELECT videoid, views FROM {ks}.video_views_by_day WHERE day = ?")
        self._views_total = prepare(
            f"SELECT views FROM {ks}.video_view_counts WHERE videoid = ?")
        self._users_in_range = prepare(
            f"SELECT DISTINCT userid FROM {ks}.viewer_history "
            "WHERE token(userid) > ? AND token(userid) <= ?")

    async def seen_among(self, user_id: uuid.UUID, video_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which candidates this viewer watched or hid: single-partition lookups whose
        cost depends on the number of candidates, not on the length of the history."""
        chunks = [list(video_ids[i:i + IN_CHUNK]) for i in range(0, len(video_ids), IN_CHUNK)]
        results = await asyncio.gather(
            *(execute(self.session, self._seen_among, (user_id, chunk)) for chunk in chunks))
        return {row.videoid for rows in results for row in rows}

    async def history_row(self, user_id: uuid.UUID, video_id: uuid.UUID,
                          for_update: bool = False) -> HistoryRow | None:
        rows = await execute(self.session, self._history_row, (user_id, video_id),
                             _profile(for_update))
        return history_from_row(rows[0]) if rows else None

    async def history(self, user_id: uuid.UUID, for_update: bool = False) -> list[HistoryRow]:
        return [history_from_row(row) for row in await execute(
            self.session, self._history, (user_id,), _profile(for_update))]

    async def taste(self, user_id: uuid.UUID, for_update: bool = False) -> StoredTaste:
        rows = await execute(self.session, self._taste, (user_id,), _profile(for_update))
        if not rows:
            return StoredTaste(None, None, None)
        return StoredTaste(rows[0].taste_version, rows[0].taste_state, rows[0].taste_model)

    async def commit(self, user_id: uuid.UUID, expected_version: int | None, new_version: int,
                     new_state: bytes, model_id: str | None, row: HistoryRow | None,
                     event_id: str | None) -> bool:
        """Write the taste state and (optionally) one history row atomically, only if nobody
        else changed the state since we read it. False means: re-read and try again."""
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        batch.add(self._cas_taste, (new_version, new_state, model_id, user_id, expected_version))
        if row is not None:
            batch.add(self._write_row, (
                # A hide-only row writes no watch cells, so un-hiding removes the row
                # and the video stops counting as seen.
                row.first_watched, row.last_watched, row.play_count or None,
                row.seconds_watched if row.play_count else None, row.duration_s, row.hidden_at, {event_id} if event_id else set(),
                user_id, row.video_id))
        rows = await execute(self.session, batch, None, WRITE_PROFILE)
        return bool(rows and rows[0].applied)

    async def write_preferences(self, user_id: uuid.UUID, vector: np.ndarray | None,
                                model_id: str | None, item_count: int,
                                recent_positive: bytes | None, version: int) -> None:
        # The version (microseconds) doubles as the write timestamp: out-of-order
        # writers cannot replace a newer profile with an older one.
        await execute(self.session, self._write_prefs, (
            user_id, vector, model_id, item_count, datetime.now(timezone.utc),
            recent_positive, version), WRITE_PROFILE)

    async def preferences(self, user_id: uuid.UUID) -> StoredPreferences | None:
        rows = await execute(self.session, self._prefs, (user_id,))
        if not rows:
            return None
        row = rows[0]
        return StoredPreferences(row.preference_vector, row.model_id, row.item_count or 0,
                                 row.recent_positive)

    async def count_view(self, video_id: uuid.UUID, day: date) -> None:
        await asyncio.gather(
            execute(self.session, self._count_day, (day, video_id), WRITE_PROFILE),
            execute(self.session, self._count_total, (video_id,), WRITE_PROFILE))

    async def views_on(self, day: date) -> list[tuple[uuid.UUID, int]]:
        return [(row.videoid, row.views)
                for row in await execute(self.session, self._views_on, (day,))]

    async def total_views(self, video_id: uuid.UUID) -> int:
        rows = await execute(self.session, self._views_total, (video_id,))
        return rows[0].views if rows else 0

    async def users_in_token_range(self, start: int, end: int) -> list[uuid.UUID]:
        """Viewers whose partition token is in (start, end]: batch jobs scan the ring."""
        rows = await execute(self.session, self._users_in_range, (start, end))
        return [row.userid for row in rows]
