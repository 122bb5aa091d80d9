"""A viewer's interests (after PinnerSage, Pinterest, KDD 2020): clusters of their recent
positive videos in the content space, each represented by its medoid (a video the viewer
really liked, so its embedding is a query that stays inside the catalogue's manifold) and
an importance: the recency-weighted count of its members.

The interests are a function of the recent likes and the state's reference time alone:
a commit clusters them once, whatever it applies (20 likes: a 20 x 20 similarity and a
linkage: 0.07-0.1 ms in a loop, 0.23-0.25 in a server whose caches a request evicted),
so the online state, a journal replay and a batch rebuild agree exactly, and a replay of
many entries clusters once, not once an entry.
"""
from __future__ import annotations

import functools
import struct
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

try:  # see average_linkage
    from scipy.cluster._hierarchy import nn_chain as _nn_chain
except ImportError:  # pragma: no cover - another scipy: the public function
    _nn_chain = None

_ENTRY = struct.Struct("<16sddI")  # medoid_id importance as_of count
_HEADER = struct.Struct("<HI")     # entries dimension


@dataclass(frozen=True)
class InterestRef:
    """An interest by reference, as the taste head and the read model store it: the medoid
    vector is the medoid video's own."""
    medoid_id: uuid.UUID
    importance: float
    as_of: float
    count: int

    def pack(self) -> bytes:
        return _ENTRY.pack(self.medoid_id.bytes, self.importance, self.as_of, self.count)

    @classmethod
    def unpack(cls, entry) -> "InterestRef":
        vid, importance, as_of, count = _ENTRY.unpack(entry)
        return cls(uuid.UUID(bytes=bytes(vid)), importance, as_of, count)


ENTRY_SIZE = _ENTRY.size


@dataclass(frozen=True, eq=False)
class Interest:
    medoid_id: uuid.UUID
    medoid: np.ndarray   # unit float32 content embedding of the medoid video
    importance: float    # sum of decay(age) over members, decayed to as_of
    as_of: float
    count: int

    def reference(self) -> InterestRef:
        return InterestRef(self.medoid_id, self.importance, self.as_of, self.count)

    def same_as(self, other: "Interest") -> bool:
        return ((self.medoid_id, self.importance, self.as_of, self.count)
                == (other.medoid_id, other.importance, other.as_of, other.count)
                and np.array_equal(self.medoid, other.medoid))


Decay = Callable[[float], float]  # age in seconds -> weight in (0, 1]


def cluster(members: Sequence, ref: float, decay: Decay, count: int,
            similarity: float) -> tuple[Interest, ...]:
    """Up to `count` interests from positives (objects with video_id, at, embedding),
    by average-linkage clustering on cosine distance, cut where members of one cluster
    are on average less similar than `similarity`. Most important first."""
    if not members or count <= 0:
        return ()
    n = len(members)
    vectors = np.array([m.embedding for m in members], dtype=np.float64)
    each = [decay(ref - m.at) for m in members]
    weights = np.array(each)
    similar = vectors @ vectors.T  # the distances and every cluster's medoid come from it
    groups: list[list[int]]
    if n == 1:
        groups = [[0]]
    else:
        distance = np.clip(1.0 - similar, 0.0, 2.0)[_upper_triangle(n)]
        if distance.min() > 1.0 - similarity:
            # Linkage merges the closest pair first: if even that pair is too far apart
            # to share an interest, every like is its own (the same cut, exactly).
            groups = [[i] for i in range(n)]
        else:
            by_root: dict[int, list[int]] = {}
            for i, root in enumerate(flat_clusters(average_linkage(distance, n),
                                                   1.0 - similarity)):
                by_root.setdefault(root, []).append(i)
            groups = list(by_root.values())
    # Only the `count` most important clusters need a medoid. The sums here may differ
    # from the exact ones below in the last bits, so ties at the cut-off are all kept.
    # (Summed in Python: one numpy call a cluster costs more than the clustering.)
    rough = [sum(each[i] for i in g) for g in groups]
    cut = sorted(rough, reverse=True)[min(count, len(groups)) - 1]
    interests = []
    for g, weight in zip(groups, rough):
        if weight < cut - 1e-9 * max(1.0, abs(cut)):
            continue
        if len(g) == 1:
            best, importance = g[0], each[g[0]]
        else:
            idx = np.array(g)
            best, importance = _medoid(similar, idx, members), float(weights[idx].sum())
        interests.append(Interest(members[best].video_id, vectors[best].astype(np.float32),
                                  importance, ref, len(g)))
    interests.sort(key=lambda i: (-i.importance, i.medoid_id.bytes))
    return tuple(interests[:count])


@functools.lru_cache(maxsize=64)
def _upper_triangle(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The condensed distance's positions in an n x n matrix (n <= recent likes kept)."""
    rows, columns = np.triu_indices(n, 1)
    rows.setflags(write=False)  # shared by every call
    columns.setflags(write=False)
    return rows, columns


def _medoid(similar: np.ndarray, idx: np.ndarray, members: Sequence) -> int:
    """The member most similar to the rest; ties go to the newer, then the lower id."""
    inner = similar[np.ix_(idx, idx)].sum(axis=1)
    # Only members within rounding of the best can win the tie-break below: rounding
    # to 9 decimals keeps any member 1e-8 below the best strictly below it.
    near = np.flatnonzero(inner >= inner.max() - 1e-8)
    return int(idx[min(near.tolist(), key=lambda j: (
        -round(float(inner[j]), 9), -members[int(idx[j])].at,
        members[int(idx[j])].video_id.bytes))])


def average_linkage(condensed: np.ndarray, n: int) -> np.ndarray:
    """scipy's average linkage of a condensed distance matrix. Its public `linkage` spends
    ten times the clustering itself on input checks at this size (20 likes, the view
    path's recluster), so the compiled routine it dispatches to is called directly when
    this scipy has it; a unit test holds the two equal."""
    if _nn_chain is not None:
        return _nn_chain(condensed, n, 2)  # 2: average, as scipy numbers the methods
    from scipy.cluster.hierarchy import linkage
    return linkage(condensed, method="average")


def flat_clusters(tree: np.ndarray, height: float) -> list[int]:
    """Flat clusters of a monotone linkage: the merges at or below `height` joined, as
    fcluster(tree, height, criterion="distance") labels them up to numbering, without its
    validity checks, which cost more than the clustering at this size."""
    n = tree.shape[0] + 1
    parent = list(range(2 * n - 1))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    for step, (a, b, merged_at, _) in enumerate(tree.tolist()):
        if merged_at <= height:
            parent[root(int(a))] = parent[root(int(b))] = n + step
    return [root(i) for i in range(n)]


def encode_interests(interests: Sequence[Interest]) -> bytes:
    dimension = interests[0].medoid.shape[0] if interests else 0
    parts = [_HEADER.pack(len(interests), dimension)]
    for i in interests:
        parts += [i.reference().pack(), np.asarray(i.medoid, dtype="<f4").tobytes()]
    return b"".join(parts)


def encode_interest_refs(refs: Sequence[InterestRef]) -> bytes:
    """The read model's interests by reference: the same block with dimension 0."""
    return _HEADER.pack(len(refs), 0) + b"".join(r.pack() for r in refs)


def decode_interests(buf) -> tuple[tuple[Interest, ...], int]:
    """(interests, bytes used)."""
    buf = memoryview(buf)
    if len(buf) < _HEADER.size:
        raise ValueError("truncated interests block")
    n, dimension = _HEADER.unpack(buf[:_HEADER.size])
    pos, out = _HEADER.size, []
    for _ in range(n):
        end = pos + _ENTRY.size + 4 * dimension
        if len(buf) < end:
            raise ValueError("truncated interests block")
        ref = InterestRef.unpack(buf[pos:pos + _ENTRY.size])
        medoid = np.frombuffer(buf[pos + _ENTRY.size:end], dtype="<f4").astype(np.float32)
        medoid.setflags(write=False)
        out.append(Interest(ref.medoid_id, medoid, ref.importance, ref.as_of, ref.count))
        pos = end
    return tuple(out), pos


def decode_interest_block(buf) -> tuple[tuple[InterestRef, ...], tuple[Interest, ...]]:
    """(references, interests) of a stored block: a block of dimension 0 holds references
    only; one written by an older release holds the medoid vectors too."""
    count, dimension = _HEADER.unpack_from(buf, 0)
    if dimension:
        interests = decode_interests(buf)[0]
        return tuple(i.reference() for i in interests), interests
    end = _HEADER.size + count * _ENTRY.size
    if len(buf) < end:
        raise ValueError("truncated interests block")
    return tuple(InterestRef.unpack(buf[pos:pos + _ENTRY.size])
                 for pos in range(_HEADER.size, end, _ENTRY.size)), ()


def label(interests: Sequence[Interest], vectors: np.ndarray, similarity: float) -> np.ndarray:
    """Each row's interest index: its nearest medoid if at least `similarity` close, else
    -1. A viewer with one interest has nothing to tell apart: all -1."""
    n = len(vectors)
    if len(interests) < 2 or n == 0:
        return np.full(n, -1, dtype=np.int64)
    medoids = np.stack([i.medoid for i in interests]).astype(np.float64)
    rows = np.asarray(vectors, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", rows, rows))  # a fifth of linalg.norm's time
    sims = (rows @ medoids.T) / np.maximum(norms, 1e-12)[:, None]
    best = np.argmax(sims, axis=1)
    return np.where(sims[np.arange(n), best] >= similarity, best, -1)


def allocate(interests: Sequence[Interest], budget: int, floor: int = 10) -> list[int]:
    """ANN rows per interest: the budget shared in proportion to importance (PinnerSage's
    allocation), at least `floor` each, so a minor taste is still searched."""
    total = sum(max(i.importance, 0.0) for i in interests)
    return [max(floor, round(budget * (max(i.importance, 0.0) / total if total > 0
                                       else 1.0 / len(interests))))
            for i in interests]
