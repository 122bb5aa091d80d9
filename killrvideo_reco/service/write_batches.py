"""Writes that follow a view's commit, several viewers' in one statement (the view
counters, service/activity.py).

Views of different viewers that commit while the previous such write is in flight wait
for it, then go in together (group_commit.py's rule, over all viewers): under load a
view pays a share of a round trip instead of one of its own, and alone it waits for
nothing. Each view still waits for its own write, and a failed statement fails every
view in it, so a client learns of it and retries as before: the counters' error after
node loss stays bounded by the retried events.
"""
from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from killrvideo_reco.metrics import VIEW_WRITE_BATCHES
from killrvideo_reco.service.group_commit import GroupCommits

W = TypeVar("W")  # one view's write
_ALL = uuid.UUID(int=0)  # one queue for every viewer


class WriteBatches(Generic[W]):
    def __init__(self, kind: str, write: Callable[[Sequence[W]], Awaitable[None]],
                 max_batch: int):
        """`max_batch`: Cassandra warns of an unlogged batch over more than 10 partitions."""
        self._kind, self._write = kind, write
        self._queue: GroupCommits[W, None] = GroupCommits(self._apply, max_batch)

    async def submit(self, item: W) -> None:
        await self._queue.submit(_ALL, item)

    async def _apply(self, _: uuid.UUID, items: Sequence[W]) -> list[None]:
        VIEW_WRITE_BATCHES.labels(self._kind).observe(len(items))
        await self._write(items)
        return [None] * len(items)
