"""In-memory ViewerRepository: conditional commits, newest-wins read model, counters."""
from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import date, datetime, timezone

from killrvideo_reco.domain.models import (
    HistoryRow,
    ProfileReferences,
    ProfileStamp,
    StoredProfile,
    TasteChange,
    TasteRecord,
)
from killrvideo_reco.domain.taste_head import StoredHead
from killrvideo_reco.domain.taste_journal import decode_entry, encode_entry, journal_channels
from killrvideo_reco.domain.taste_profile import ChannelSum


class FakeViewerStore:
    def __init__(self):
        self.rows: dict[uuid.UUID, dict[uuid.UUID, HistoryRow]] = {}
        self.tastes: dict[uuid.UUID, TasteRecord] = {}  # snapshots and journals, no channels
        self.channels: dict[uuid.UUID, dict[str, ChannelSum]] = {}  # one cell per channel
        self.profiles: dict[uuid.UUID, tuple[int, StoredProfile]] = {}
        self.nearest_versions: dict[uuid.UUID, int] = {}  # the nearest list's write time
        self.views: dict[tuple[date, uuid.UUID], int] = {}  # distinct viewers a day
        self.totals: dict[uuid.UUID, int] = {}
        self.commits = 0
        self.refused = 0  # conditional writes that lost a race
        # Called just before a commit is checked: lets a test slip in a concurrent writer.
        self.before_commit = None

    async def seen_among(self, user_id, video_ids):
        mine = self.rows.get(user_id, {})
        return {v for v in video_ids if v in mine}

    async def history(self, user_id, for_update=False):
        return list(self.rows.get(user_id, {}).values())

    async def taste_state(self, user_id, for_update=False):
        record = self.tastes.get(user_id, TasteRecord())
        await asyncio.sleep(0)  # a real read yields before it answers: writers interleave
        return record

    async def read_for_change(self, user_id, video_ids, channels):
        record = await self.taste_state(user_id)
        wanted = [*channels, *journal_channels(record.journal)] if record.state else []
        rows, cells = await self.rows_for_change(user_id, video_ids, wanted, 0)
        if record.state is not None:
            record = replace(record, state=record.state.with_channels(cells))
        return record, rows

    async def rows_for_change(self, user_id, video_ids, channels, dimension):
        await asyncio.sleep(0)
        cells = self.channels.get(user_id, {})
        mine = self.rows.get(user_id, {})
        return ({v: mine[v] for v in video_ids if v in mine},
                {key: cells[key] for key in channels if key in cells})

    async def commit(self, change: TasteChange) -> bool:
        if self.before_commit:
            hook, self.before_commit = self.before_commit, None
            await hook()
        if self.tastes.get(change.user_id, TasteRecord()).version != change.expected_version:
            self.refused += 1
            return False
        self.commits += 1
        self._write_rows(change)
        if change.journal is not None:  # through the real codec, as the store keeps it
            record = self.tastes[change.user_id]
            entry = decode_entry(encode_entry(change.journal))
            self.tastes[change.user_id] = replace(record, version=change.new_version,
                                                  journal=(*record.journal, entry))
            return True
        state = change.state
        # The head as the store keeps it: by reference, through the real codec.
        self.tastes[change.user_id] = TasteRecord(change.new_version,
                                                  StoredHead.from_bytes(state.to_bytes()),
                                                  change.model_id)
        cells = self.channels.setdefault(change.user_id, {})
        if change.replace_channels:
            cells.clear()
        for key, channel in state.channels.items():
            if channel.count > 0:
                cells[key] = channel
            else:
                cells.pop(key, None)
        return True

    def _write_rows(self, change: TasteChange) -> None:
        rows = self.rows.setdefault(change.user_id, {})
        for write in change.rows:
            old = rows.get(write.row.video_id)
            events = (old.event_ids if old else frozenset()) | write.event_ids
            row = replace(write.row, event_ids=frozenset(events))
            if row.play_count == 0 and row.hidden_at is None:
                rows.pop(row.video_id, None)  # an un-hidden, never-watched row goes away
            else:
                rows[row.video_id] = row

    async def write_profile(self, user_id, vector, model_id, item_count,
                            references: ProfileReferences, version, behaviour=None):
        current = self.profiles.get(user_id)
        if current is None or current[0] < version:  # USING TIMESTAMP: newest wins
            slots = dict(current[1].behaviour) if current else {}
            if behaviour is not None:
                slots[behaviour[0]] = (behaviour[1], behaviour[2])
            # As the store does: the references only, which the feed resolves.
            self.profiles[user_id] = (version, StoredProfile(
                vector, model_id, item_count, (), slots, (), version, references,
                current[1].nearest if current else None))

    async def profile(self, user_id):
        found = self.profiles.get(user_id)
        return found[1] if found else None

    async def profile_stamp(self, user_id):
        found = self.profiles.get(user_id)
        return ProfileStamp(found[1].version, found[1].item_count) if found else None

    async def write_nearest(self, user_id, nearest, version):
        current = self.profiles.get(user_id)
        if current is not None:  # an UPDATE of an existing row (the store has no other)
            if self.nearest_versions.get(user_id, -1) <= version:  # USING TIMESTAMP
                self.nearest_versions[user_id] = version
                self.profiles[user_id] = (current[0], replace(current[1], nearest=nearest))

    async def count_view(self, video_id, day, new_viewer_today):
        self.totals[video_id] = self.totals.get(video_id, 0) + 1
        if new_viewer_today:
            self.views[(day, video_id)] = self.views.get((day, video_id), 0) + 1

    async def count_views(self, counts):
        for c in counts:
            await self.count_view(c.video_id, c.day, c.new_viewer_today)

    async def total_views(self, video_ids):
        return {v: self.totals[v] for v in video_ids if v in self.totals}

    async def views_on(self, day):
        return [(v, n) for (d, v), n in self.views.items() if d == day]

    async def users_in_token_range(self, start, end):
        return list(self.rows) if start < 0 <= end else []

    def watch(self, user_id, video_id, at: datetime | None = None):
        """Seed a watched row directly (as tests/integration/seeding.py does)."""
        at = at or datetime.now(timezone.utc)
        self.rows.setdefault(user_id, {})[video_id] = HistoryRow(video_id, at, at, 1, 300.0, 600.0)

    async def history_in_token_range(self, start, end):
        if not start < 0 <= end:  # every fake viewer sits at token 0
            return []
        return [(user, row) for user, rows in self.rows.items() for row in rows.values()]

    async def forget(self, user_id, at_us):
        for table in (self.rows, self.tastes, self.profiles, self.channels,
                      self.nearest_versions):
            table.pop(user_id, None)

    async def write_behaviour_many(self, slot, run_id, vectors, version):
        for user_id, vector in vectors:
            current = self.profiles.get(user_id)
            if current is not None and current[0] >= version:
                continue  # USING TIMESTAMP: an older write loses
            profile = current[1] if current else StoredProfile(None, None, 0, (), {}, ())
            slots = {**profile.behaviour, slot: (run_id, vector)}
            self.profiles[user_id] = (version, replace(profile, behaviour=slots))

    async def import_watches(self, user_id_rows, on_done=None):
        for user_id, row in user_id_rows:
            self.rows.setdefault(user_id, {})[row.video_id] = row
        if on_done:
            on_done(len(user_id_rows))
        return len(user_id_rows)
