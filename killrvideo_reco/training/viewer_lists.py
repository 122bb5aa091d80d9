"""Each viewer's nearest videos in a new run's behaviour space, exact, at training time:
their kept nearest list (domain/viewer_nearest.py) is there before their first page 1 of
the run, so a retrain does not send every returning viewer's next page 1 to the ANN index
at once. The ranking is the index's: the index vectors are unit (the MIPS transform) and
a viewer's query is a unit vector with a zero in the extra dimension, so their inner
product is the cosine the ANN query orders by. `implicit`'s blocked top-k computes it."""
from __future__ import annotations

import uuid
from collections.abc import Sequence

import numpy as np
from implicit.cpu.topk import topk


def nearest_videos(video_ids: Sequence[uuid.UUID], index: np.ndarray, queries: np.ndarray,
                   depths: Sequence[int]) -> list[tuple[uuid.UUID, ...]]:
    """index: (videos, dimension + 1) as written for the run, a row per video of
    `video_ids`; queries: (viewers, dimension + 1) index queries; each viewer's first
    depths[n] videos, nearest first. Videos without a vector are never listed."""
    items = np.asarray(index, dtype=np.float32)
    rows = np.flatnonzero(np.abs(items).sum(axis=1) > 0)
    if not len(rows) or not len(depths):
        return [() for _ in depths]
    wanted = min(max(depths), len(rows))
    found, _ = topk(np.ascontiguousarray(items[rows]),
                    np.ascontiguousarray(np.asarray(queries, dtype=np.float32)), wanted,
                    num_threads=1)
    return [tuple(video_ids[rows[i]] for i in ids[ids >= 0][:depth])
            for ids, depth in zip(found, depths)]
