"""A viewer's nearest videos in the behaviour space, kept with their read model: the
behaviour source's last ANN answer, reused by the next page 1 while it still answers the
viewer's query. No I/O."""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from killrvideo_reco.domain.uuids import uuids_of


@dataclass(frozen=True)
class ViewerNearest:
    run_id: str
    depth: int  # the LIMIT asked: the list is the whole catalogue when it holds fewer
    computed_at: float  # epoch seconds
    query: np.ndarray  # float32: the behaviour query the list answers
    packed: bytes  # the ids nearest first, 16 bytes each: decoded only when reused

    @classmethod
    def of(cls, run_id: str, depth: int, computed_at: float, query: np.ndarray,
           video_ids: Sequence[uuid.UUID]) -> ViewerNearest:
        return cls(run_id, depth, computed_at, query, b"".join(v.bytes for v in video_ids))

    @cached_property
    def video_ids(self) -> tuple[uuid.UUID, ...]:
        return uuids_of(self.packed)


@dataclass(frozen=True)
class NearestRules:
    """When a kept list still answers the query (FEED_VIEWER_NEAREST_* settings)."""
    min_cosine: float
    max_age_s: float


def reusable(kept: ViewerNearest | None, run_id: str, query: np.ndarray, depth: int,
             wanted: int, now: float, rules: NearestRules) -> list[uuid.UUID] | None:
    """The kept list's ids when it answers `query` for `depth` rows: the same run, young
    enough for new uploads to have reached it, and a query within `min_cosine` of the one
    it was computed for (each view moves the query a little; the candidates are rescored
    with the current query, so only the recall of the list's tail is at stake). A list
    up to a quarter of `wanted` shallower serves too: the depth's allowance for seen
    videos grows with each view, and a source left short is widened by an ANN query."""
    if kept is None or kept.run_id != run_id or now - kept.computed_at > rules.max_age_s:
        return None
    if kept.depth + wanted // 4 < depth:
        return None
    norms = float(np.linalg.norm(kept.query) * np.linalg.norm(query))
    if norms == 0.0 or kept.query.shape != query.shape:
        return None
    if float(kept.query @ query) / norms < rules.min_cosine - 1e-6:  # float32 rounding
        return None
    return list(kept.video_ids[:depth])
