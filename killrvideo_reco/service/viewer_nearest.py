"""The behaviour source's ids for one page 1: the viewer's kept nearest list while it
still answers their query (domain/viewer_nearest.reusable), else one ANN query whose
answer is kept with their read model for the next page 1. A viewer who comes back after a
few views, to another replica or after the ranked-list cache let go of them, costs a key
read they already pay (the profile) instead of the request's one ANN query."""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable

import numpy as np

from killrvideo_reco.domain.models import BehaviourRun
from killrvideo_reco.domain.viewer_nearest import NearestRules, ViewerNearest, reusable
from killrvideo_reco.metrics import FEED_VIEWER_NEAREST
from killrvideo_reco.service.ports import BehaviourRepository, ViewerRepository

log = logging.getLogger(__name__)


class BehaviourNearest:
    def __init__(self, behaviour: BehaviourRepository, viewers: ViewerRepository,
                 rules: NearestRules, clock: Callable[[], float] = time.time):
        self.behaviour, self.viewers, self.rules, self.clock = behaviour, viewers, rules, clock

    async def ids(self, user_id: uuid.UUID, run: BehaviourRun, query: np.ndarray, depth: int,
                  wanted: int, kept: ViewerNearest | None, version: int | None,
                  writes: list[asyncio.Task]) -> tuple[list[uuid.UUID], int]:
        """The `depth` videos nearest `query`, or the kept list's when it still answers,
        with the LIMIT the answer came from (a kept list may be a little shallower).
        A fresh answer's write is appended to `writes`, for the caller to await once the
        rest of the request is done (`settle`): it never holds the candidates up."""
        found = reusable(kept, run.run_id, query, depth, wanted, self.clock(), self.rules)
        if found is not None:
            FEED_VIEWER_NEAREST.labels("reused").inc()
            assert kept is not None
            return found, min(kept.depth, depth)
        found = await self.behaviour.nearest_ids(run, "behaviour", query, depth)
        FEED_VIEWER_NEAREST.labels("queried").inc()
        if version is not None:
            nearest = ViewerNearest.of(run.run_id, depth, self.clock(),
                                       np.asarray(query, dtype=np.float32), found)
            writes.append(asyncio.ensure_future(
                self.viewers.write_nearest(user_id, nearest, version)))
        return found, depth


async def settle(writes: list[asyncio.Task]) -> None:
    """Await the kept lists' writes; a failed one costs the next page 1 a query, not this
    request its answer."""
    for outcome in await asyncio.gather(*writes, return_exceptions=True):
        if isinstance(outcome, BaseException):
            FEED_VIEWER_NEAREST.labels("write_failed").inc()
            log.warning("a viewer's nearest list was not kept: %r", outcome)
