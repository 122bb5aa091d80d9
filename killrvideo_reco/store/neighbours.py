"""CQL for the per-video neighbour lists (video_neighbours): read by key, written whole."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from functools import partial

import numpy as np
from cassandra.cluster import Session

from killrvideo_reco.domain.models import NeighbourList
from killrvideo_reco.store.aio import execute
from killrvideo_reco.store.bulk import execute_many
from killrvideo_reco.store.connection import WRITE_EXECUTION
from killrvideo_reco.store.connection import prepare as prepare_statement
from killrvideo_reco.store.rows import as_utc
from killrvideo_reco.store.uuid_codec import SHARED


class NeighbourStore:
    def __init__(self, session: Session, keyspace: str):
        self.session = session
        prepare = partial(prepare_statement, session)
        self._read = prepare(
            f"SELECT videoid, version, computed_at, neighbours, similarities "
            f"FROM {keyspace}.video_neighbours WHERE videoid IN ? AND space = ?")
        self._write = prepare(
            f"INSERT INTO {keyspace}.video_neighbours (videoid, space, version, computed_at, "
            "neighbours, similarities) VALUES (?, ?, ?, ?, ?, ?)")

    async def neighbour_lists(self, video_ids: Sequence[uuid.UUID],
                              space: str) -> dict[uuid.UUID, NeighbourList]:
        if not video_ids:
            return {}
        rows = await execute(self.session, self._read, (list(dict.fromkeys(video_ids)), space))
        found = {}
        for row in rows:
            data = row.neighbours or b""
            computed = as_utc(row.computed_at)
            found[row.videoid] = NeighbourList(
                row.version or "", computed.timestamp() if computed else 0.0,
                SHARED.uuids_of(data),
                np.frombuffer(row.similarities or b"", dtype="<f4").astype(np.float32))
        return found

    async def write_neighbours(self, video_id: uuid.UUID, space: str,
                               neighbours: NeighbourList) -> None:
        await execute(self.session, self._write, _values(video_id, space, neighbours),
                      WRITE_EXECUTION)

    async def write_neighbour_lists(self, space: str,
                                    lists: Sequence[tuple[uuid.UUID, NeighbourList]]) -> None:
        values = [_values(video_id, space, neighbours) for video_id, neighbours in lists]
        await asyncio.to_thread(execute_many, self.session, self._write, values)


def _values(video_id: uuid.UUID, space: str, neighbours: NeighbourList) -> tuple:
    return (video_id, space, neighbours.version,
            datetime.fromtimestamp(neighbours.computed_at, timezone.utc),
            b"".join(v.bytes for v in neighbours.video_ids),
            np.asarray(neighbours.similarities, dtype="<f4").tobytes())
