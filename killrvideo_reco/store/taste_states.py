"""CQL for taste states (layout 7) in the viewer's viewer_history partition: the head and
the journal of commits since it in static columns, and each channel's sum in a clustering
row of its own.

A channel row's clustering key is a name-based UUID of the channel (uuid5, version 5),
which no video id shares (videos have random or time UUIDs), and the row sets nothing but
`channel_sum`. Keeping the cells in the same partition is what lets one conditional batch
commit the head, the channels and the history rows together; keeping them in rows rather
than in a static map is what keeps a read of one of them O(1) on disk, not O(channels).
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import replace
from functools import partial

from cassandra.cluster import Session
from cassandra.query import BatchStatement, BatchType

from killrvideo_reco.domain.models import HistoryRow, TasteChange, TasteRecord
from killrvideo_reco.domain.taste_head import StoredHead
from killrvideo_reco.domain.taste_journal import (
    JournalChange,
    decode_entry,
    encode_entry,
    journal_channels,
)
from killrvideo_reco.domain.taste_profile import (
    ChannelSum,
    OutdatedState,
    channel_cells,
    decode_channel,
)
from killrvideo_reco.store.aio import execute
from killrvideo_reco.store.connection import WRITE_EXECUTION
from killrvideo_reco.store.connection import prepare as prepare_statement
from killrvideo_reco.store.rows import as_utc

log = logging.getLogger(__name__)
CHANNEL_ROWS = uuid.UUID("5e0c7a1e-6b1f-4c7e-9a53-2f1d9c8b7a61")
HISTORY_COLUMNS = ("videoid, first_watched, last_watched, play_count, seconds_watched, "
                   "duration_s, hidden_at, event_ids")


def channel_row_id(key: str) -> uuid.UUID:
    return uuid.uuid5(CHANNEL_ROWS, key)


def is_history(row) -> bool:
    """A viewer_history row that records a watch or a hide (not a channel row, not the
    static-only row of a partition without any)."""
    return row.videoid is not None and (row.play_count is not None or row.hidden_at is not None)


def history_from_row(row) -> HistoryRow:
    return HistoryRow(
        video_id=row.videoid, first_watched=as_utc(row.first_watched),
        last_watched=as_utc(row.last_watched), play_count=row.play_count or 0,
        seconds_watched=row.seconds_watched or 0.0, duration_s=row.duration_s,
        hidden_at=as_utc(row.hidden_at), event_ids=frozenset(row.event_ids or ()))


class TasteStates:
    def __init__(self, session: Session, keyspace: str):
        self.session = session
        ks = keyspace
        prepare = partial(prepare_statement, session)
        self._head = prepare(
            f"SELECT taste_version, taste_state, taste_model, taste_journal "
            f"FROM {ks}.viewer_history WHERE userid = ? LIMIT 1")
        # The changed videos' history rows and the channel rows, in one read.
        self._rows = prepare(
            f"SELECT {HISTORY_COLUMNS}, channel_sum FROM {ks}.viewer_history "
            "WHERE userid = ? AND videoid IN ?")
        self._row_kinds = prepare(
            f"SELECT videoid, play_count, hidden_at FROM {ks}.viewer_history WHERE userid = ?")
        # A snapshot: the head, and the journal cleared.
        self._cas_head = prepare(
            f"UPDATE {ks}.viewer_history SET taste_version = ?, taste_state = ?, taste_model = ?, "
            "taste_journal = null WHERE userid = ? IF taste_version = ?")
        self._cas_journal = prepare(
            f"UPDATE {ks}.viewer_history SET taste_version = ?, taste_journal[?] = ? "
            "WHERE userid = ? IF taste_version = ?")
        self._set_channel = prepare(
            f"UPDATE {ks}.viewer_history SET channel_sum = ? WHERE userid = ? AND videoid = ?")
        self._write_row = prepare(
            f"UPDATE {ks}.viewer_history SET first_watched = ?, last_watched = ?, play_count = ?, "
            "seconds_watched = ?, duration_s = ?, hidden_at = ?, event_ids = event_ids + ? "
            "WHERE userid = ? AND videoid = ?")

    async def head(self, user_id: uuid.UUID, execution) -> TasteRecord:
        rows = await execute(self.session, self._head, (user_id,), execution)
        if not rows or rows[0].taste_version is None:
            return TasteRecord()
        row = rows[0]
        head = self._decode(user_id, row.taste_state)
        journal = self._journal(user_id, row.taste_journal) if head is not None else ()
        if journal is None:
            head, journal = None, ()  # rebuilt from history, as an unreadable head is
        return TasteRecord(row.taste_version, head, row.taste_model, journal)

    async def for_change(self, user_id: uuid.UUID, video_ids: Sequence[uuid.UUID],
                         channels: Sequence[str], execution
                         ) -> tuple[TasteRecord, dict[uuid.UUID, HistoryRow]]:
        # The head first, then the rows: a commit between the two reads also moved
        # taste_version, so the conditional write built on them fails and is retried.
        record = await self.head(user_id, execution)
        if record.state is None:
            return record, (await self.rows(user_id, video_ids, [], 0, execution))[0]
        # The journal's channels too: replaying it starts from their snapshot cells.
        history, cells = await self.rows(user_id, video_ids,
                                         [*channels, *journal_channels(record.journal)],
                                         record.state.dimension, execution)
        return replace(record, state=record.state.with_channels(cells)), history

    async def rows(self, user_id: uuid.UUID, video_ids: Sequence[uuid.UUID],
                   channels: Sequence[str], dimension: int, execution
                   ) -> tuple[dict[uuid.UUID, HistoryRow], dict[str, ChannelSum]]:
        """These videos' history rows and these channels' stored cells, in one read."""
        keys = {channel_row_id(key): key for key in dict.fromkeys(channels)}
        ids = list(dict.fromkeys([*video_ids, *keys]))
        found = await execute(self.session, self._rows, (user_id, ids), execution)
        history = {row.videoid: history_from_row(row) for row in found if is_history(row)}
        cells = {keys[row.videoid]: decode_channel(row.channel_sum, dimension)
                 for row in found if row.videoid in keys and row.channel_sum}
        return history, cells

    def _decode(self, user_id: uuid.UUID, head: bytes | None) -> StoredHead | None:
        if not head:
            return None
        try:
            return StoredHead.from_bytes(head)
        except OutdatedState:
            log.info("user %s: taste state of an older layout; rebuilding it from "
                          "history", user_id)
        except ValueError as error:
            # Never fail a view over a damaged blob: the service rebuilds it from history.
            log.warning("user %s: unreadable taste state (%s); rebuilding it from "
                             "history", user_id, error)
        return None

    def _journal(self, user_id: uuid.UUID,
                 stored) -> tuple[tuple[JournalChange, ...], ...] | None:
        try:  # a map sorted by version: commit order
            return tuple(decode_entry(entry) for _, entry in sorted((stored or {}).items()))
        except ValueError as error:
            log.warning("user %s: unreadable taste journal (%s); rebuilding the state from "
                        "history", user_id, error)
            return None

    async def commit(self, change: TasteChange) -> bool:
        """A journal entry, or a snapshot (the head and the channel cells the state holds),
        with the history rows, atomically (one conditional batch on the viewer's
        partition), only if nobody else changed the state since it was read. False means:
        re-read and try again."""
        user_id = change.user_id
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        if change.journal is not None:
            batch.add(self._cas_journal, (change.new_version, change.new_version,
                                          encode_entry(change.journal), user_id,
                                          change.expected_version))
            self._add_rows(batch, change)
            rows = await execute(self.session, batch, None, WRITE_EXECUTION)
            return bool(rows and rows[0].applied)
        batch.add(self._cas_head, (change.new_version, change.state.to_bytes(),
                                   change.model_id, user_id, change.expected_version))
        cells = {channel_row_id(key): cell for key, cell in channel_cells(change.state).items()}
        if change.replace_channels:
            # Every stored channel the new state lacks goes (never one it writes: a delete
            # and a write with one timestamp leave the row deleted).
            stored = await execute(self.session, self._row_kinds, (user_id,), WRITE_EXECUTION)
            cells.update({row.videoid: None for row in stored
                          if row.videoid is not None and not is_history(row)
                          and row.videoid not in cells})
        for row_id, cell in cells.items():
            batch.add(self._set_channel, (cell, user_id, row_id))
        self._add_rows(batch, change)
        rows = await execute(self.session, batch, None, WRITE_EXECUTION)
        return bool(rows and rows[0].applied)

    def _add_rows(self, batch: BatchStatement, change: TasteChange) -> None:
        for write in change.rows:
            row = write.row
            batch.add(self._write_row, (
                # A hide-only row writes no watch cells, so un-hiding removes the row
                # and the video stops counting as seen.
                row.first_watched, row.last_watched, row.play_count or None,
                row.seconds_watched if row.play_count else None, row.duration_s,
                row.hidden_at, set(write.event_ids), change.user_id, row.video_id))
