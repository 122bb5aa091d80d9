"""Each video's nearest neighbours in a run's behaviour space, exact, at training time;
and the content-space lists of the videos viewers' interests start from.

"Watched by people who watched X": the videos whose raw vectors have the largest inner
product with X's, the ranking the behaviour index's ANN gives for X's direction, so the
lists match what the related endpoint used to ask the index for. `implicit`'s blocked
top-k (a matrix product per block of queries, in C++) computes them: about 40 s a core at
100k videos and 64 factors, a small part of a fit.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import numpy as np
from implicit.cpu.topk import topk

from killrvideo_reco.domain.models import NeighbourList

BLOCK = 4096  # queries per call: implicit blocks the product itself; this bounds our arrays


def behaviour_neighbours(video_ids: Sequence[uuid.UUID], index: np.ndarray, size: int,
                         run_id: str, trained: np.ndarray | None = None
                         ) -> list[tuple[uuid.UUID, NeighbourList]]:
    """index: (n, dimension + 1) unit index vectors (the MIPS transform), row per video.
    Only videos fitted from history (`trained`; all with a vector when None) get a list
    and appear in lists: a vector the content map placed says nothing about co-watching,
    so such a video's related videos come from its content list instead."""
    raw = np.ascontiguousarray(np.asarray(index, dtype=np.float32)[:, :-1])
    has_vector = np.abs(raw).sum(axis=1) > 0
    if trained is not None:
        has_vector &= np.asarray(trained, dtype=bool)
    rows = np.flatnonzero(has_vector)
    if size <= 0 or len(rows) < 2:
        return []
    items = np.ascontiguousarray(raw[rows])
    # Unit queries: the similarity is then the index's score for the video's direction.
    queries = items / np.linalg.norm(items, axis=1, keepdims=True)
    wanted = min(size + 1, len(rows))  # + 1: a video is usually its own best match
    now = time.time()
    out: list[tuple[uuid.UUID, NeighbourList]] = []
    for start in range(0, len(rows), BLOCK):
        ids, scores = topk(items, queries[start:start + BLOCK], wanted, num_threads=1)
        for offset, (found, similar) in enumerate(zip(ids, scores)):
            own = start + offset
            keep = (found != own) & (found >= 0)
            found, similar = found[keep][:size], similar[keep][:size]
            out.append((video_ids[rows[own]], NeighbourList(
                run_id, now, tuple(video_ids[rows[i]] for i in found),
                np.asarray(similar, dtype=np.float32))))
    return out


def content_neighbours(video_ids: Sequence[uuid.UUID], content: np.ndarray,
                       of: Sequence[uuid.UUID], size: int,
                       model_id: str) -> list[tuple[uuid.UUID, NeighbourList]]:
    """The content-space lists of the videos `of`, exact: each one's `size` nearest by
    cosine over the whole catalogue (`content`: a row per video of `video_ids`), what the
    content ANN query computes at upload approximately. Videos without an embedding are
    never listed."""
    vectors = np.asarray(content, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1)
    usable = np.flatnonzero(norms > 1e-12).tolist()
    row_of = {video_ids[n]: k for k, n in enumerate(usable)}
    wanted_rows = [row_of[v] for v in dict.fromkeys(of) if v in row_of]
    if size <= 0 or len(usable) < 2 or not wanted_rows:
        return []
    units = np.ascontiguousarray(vectors[usable] / norms[usable, None])
    wanted = min(size + 1, len(usable))
    now = time.time()
    out: list[tuple[uuid.UUID, NeighbourList]] = []
    for start in range(0, len(wanted_rows), BLOCK):
        block = wanted_rows[start:start + BLOCK]
        ids, scores = topk(units, np.ascontiguousarray(units[block]), wanted, num_threads=1)
        for own, found, similar in zip(block, ids, scores):
            keep = (found != own) & (found >= 0)
            found, similar = found[keep][:size], similar[keep][:size]
            out.append((video_ids[usable[own]], NeighbourList(
                model_id, now, tuple(video_ids[usable[i]] for i in found.tolist()),
                np.asarray(similar, dtype=np.float32))))
    return out
