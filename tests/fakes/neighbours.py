"""In-memory NeighbourRepository: lists by (video, space), written whole."""
from __future__ import annotations

import uuid
from collections.abc import Sequence

from killrvideo_reco.domain.models import NeighbourList


class FakeNeighbourStore:
    def __init__(self) -> None:
        self.lists: dict[tuple[uuid.UUID, str], NeighbourList] = {}
        self.reads = 0

    async def neighbour_lists(self, video_ids: Sequence[uuid.UUID],
                              space: str) -> dict[uuid.UUID, NeighbourList]:
        self.reads += 1
        return {v: self.lists[(v, space)] for v in video_ids if (v, space) in self.lists}

    async def write_neighbours(self, video_id: uuid.UUID, space: str,
                               neighbours: NeighbourList) -> None:
        self.lists[(video_id, space)] = neighbours

    async def write_neighbour_lists(self, space: str,
                                    lists: Sequence[tuple[uuid.UUID, NeighbourList]]) -> None:
        for video_id, neighbours in lists:
            self.lists[(video_id, space)] = neighbours
