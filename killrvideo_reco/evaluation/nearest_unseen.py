"""The plain nearest-unseen search the evaluation's baselines use (mean vector,
item-to-item): ANN over content_features, watched and hidden videos dropped exactly,
below-floor ones too, the horizon doubled while short. The feed itself ranks through its
pipeline (service/feed.py); this is what a service without one would serve."""
from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence

import numpy as np

from killrvideo_reco.domain.models import Candidate
from killrvideo_reco.service.ports import VideoRepository, ViewerRepository

FIRST_LIMIT = 50   # the smallest ANN LIMIT asked
OVERFETCH = 2.0    # ANN rows asked per item needed, before exclusions


def first_ann_limit(needed: int, overfetch: float, base: int, cap: int) -> int:
    """The first horizon: over-fetched so that exclusions rarely leave the list short,
    on a fixed doubling schedule."""
    want = max(1, math.ceil(needed * overfetch))
    limit = base
    while limit < want and limit < cap:
        limit *= 2
    return min(limit, cap)


def next_ann_limit(limit: int, cap: int) -> int | None:
    """Grow geometrically up to Cassandra's ANN LIMIT cap; None when already at it."""
    return None if limit >= cap else min(limit * 2, cap)


def recommendable(candidates: Iterable[Candidate], seen: set[uuid.UUID],
                  similarity_floor: float) -> list[Candidate]:
    """Drop what the viewer watched or hid and what is below the floor; order by score
    with the video id as tie-break, so equal scores rank deterministically."""
    kept = [c for c in candidates
            if c.summary.video_id not in seen and c.score >= similarity_floor]
    kept.sort(key=lambda c: (-c.score, c.summary.video_id.bytes))
    return kept


def horizon_exhausted(candidates: Sequence[Candidate], limit: int,
                      similarity_floor: float) -> bool:
    """No wider search can add anything: fewer rows than asked (the whole catalogue
    was returned) or the tail already fell below the similarity floor."""
    return len(candidates) < limit or (bool(candidates)
                                       and candidates[-1].score < similarity_floor)


async def nearest_unseen(videos: VideoRepository, viewers: ViewerRepository,
                         user_id: uuid.UUID, vector: np.ndarray, needed: int,
                         floor: float, cap: int) -> list[Candidate]:
    """Videos nearest `vector` the user has not seen, best first: at least `needed`
    unless the horizon (at most `cap` rows) runs out."""
    limit = first_ann_limit(needed, OVERFETCH, FIRST_LIMIT, cap)
    while True:
        candidates = await videos.nearest(vector, limit)
        above = [c for c in candidates if c.score >= floor]
        seen = await viewers.seen_among(user_id, [c.summary.video_id for c in above])
        fresh = recommendable(above, seen, floor)
        grown = next_ann_limit(limit, cap)
        if len(fresh) >= needed or grown is None or horizon_exhausted(candidates, limit, floor):
            return fresh
        limit = grown
