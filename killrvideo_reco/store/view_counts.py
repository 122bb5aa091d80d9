"""CQL for recounting the all-time view counters (video_view_counts) from viewer_history
(jobs/recount.py). Every read goes through the write profile (LOCAL_QUORUM by default):
a correction computed from a lagging replica would itself be wrong."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from functools import partial

from cassandra.cluster import Session

from killrvideo_reco.store.aio import execute
from killrvideo_reco.store.connection import WRITE_EXECUTION
from killrvideo_reco.store.connection import prepare as prepare_statement

# Partition-key IN lists are chunked so one query never carries thousands of keys.
IN_CHUNK = 100


class ViewCountStore:
    def __init__(self, session: Session, keyspace: str):
        self.session = session
        ks, prepare = keyspace, partial(prepare_statement, session)
        self._plays_in_range = prepare(
            f"SELECT userid, videoid, play_count FROM {ks}.viewer_history "
            "WHERE token(userid) > ? AND token(userid) <= ?")
        self._counters_in_range = prepare(
            f"SELECT videoid, views FROM {ks}.video_view_counts "
            "WHERE token(videoid) > ? AND token(videoid) <= ?")
        self._totals = prepare(
            f"SELECT videoid, views FROM {ks}.video_view_counts WHERE videoid IN ?")
        self._add = prepare(
            f"UPDATE {ks}.video_view_counts SET views = views + ? WHERE videoid = ?")

    async def plays_in_token_range(self, start: int, end: int) -> list[tuple[uuid.UUID, int]]:
        """(video, play count) of every watched history row of the viewers whose token is
        in (start, end]. Hide-only rows (no plays) and a partition's static-only row (its
        taste state, videoid null) are left out."""
        rows = await execute(self.session, self._plays_in_range, (start, end), WRITE_EXECUTION)
        return [(row.videoid, row.play_count) for row in rows
                if row.videoid is not None and (row.play_count or 0) > 0]

    async def counters_in_token_range(self, start: int, end: int
                                      ) -> list[tuple[uuid.UUID, int]]:
        """(video, views) of every view counter whose video's token is in (start, end]."""
        rows = await execute(self.session, self._counters_in_range, (start, end),
                             WRITE_EXECUTION)
        return [(row.videoid, row.views) for row in rows]

    async def totals(self, video_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """The counters of these videos now (a video without a counter is absent)."""
        chunks = [list(video_ids[i:i + IN_CHUNK]) for i in range(0, len(video_ids), IN_CHUNK)]
        results = await asyncio.gather(*(execute(self.session, self._totals, (chunk,),
                                                 WRITE_EXECUTION) for chunk in chunks))
        return {row.videoid: row.views for rows in results for row in rows}

    async def add(self, video_id: uuid.UUID, delta: int) -> None:
        """Not idempotent (a counter): after a timeout the delta may or may not have been
        applied, so the caller re-reads rather than re-sends."""
        await execute(self.session, self._add, (delta, video_id), WRITE_EXECUTION)
