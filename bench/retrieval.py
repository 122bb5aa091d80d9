"""Pure logic of the pgvector side-by-side (bench/pgvector_peer.py), no database here:

* the peer's exclusion list and SQL, as the seeds' pull request builds them;
* the exact reference: brute-force cosine over every video minus the FULL watched set;
* recall@k and "how many of the answer were already watched";
* our retrieval stage's widening rule (domain/feed_rules.py `source_short`);
* the binary COPY payload that loads the vectors into PostgreSQL;
* synthetic long-history viewers.
"""
from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable, Sequence

import numpy as np

from killrvideo_reco.domain.feed_rules import source_short

# The pull request's MAX_EXCLUSION_LIST_SIZE: "Postgres handles NOT IN efficiently up to
# ~5000 values"; the ids beyond it are silently not excluded.
PEER_EXCLUSION_CAP = 5000


# ---------------------------------------------------------------- the peer's query

def exclusion_list(watched: Iterable[uuid.UUID], cap: int | None = PEER_EXCLUSION_CAP
                   ) -> list[uuid.UUID]:
    """The ids the peer passes to NOT IN: distinct, in the order the history query
    returned them, cut at `cap` (None: no cap), as `excludeArray.slice(0, MAX)` does."""
    seen: dict[uuid.UUID, None] = dict.fromkeys(watched)
    ids = list(seen)
    return ids if cap is None else ids[:cap]


def peer_sql(excluded: int) -> str:
    """`SELECT videoid FROM videos WHERE videoid NOT IN (<ids>) ORDER BY embedding <=>
    profile LIMIT k`, one bind parameter per excluded id (what the PR's query builder
    sends); no WHERE clause when nothing is excluded. Parameters: ids..., profile, k."""
    where = ""
    if excluded:
        where = f" WHERE videoid NOT IN ({', '.join(['%s'] * excluded)})"
    return f"SELECT videoid FROM videos{where} ORDER BY embedding <=> %s::vector LIMIT %s"


def vector_literal(vector: np.ndarray) -> str:
    """pgvector's text form, '[x,y,...]' (the PR's toPgVectorLiteral)."""
    return "[" + ",".join(repr(float(x)) for x in np.asarray(vector, dtype=np.float32)) + "]"


# ---------------------------------------------------------------- exact reference

def unit_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def exact_top_k(unit_vectors: np.ndarray, profile: np.ndarray, watched_rows: Sequence[int],
                k: int) -> list[int]:
    """Row indices of the k videos with the highest cosine to `profile`, best first,
    among all videos except `watched_rows` (the whole history, no cap). Ties: lower row."""
    return _top_k((unit_vectors @ unit_rows(profile)).astype(np.float64), watched_rows, k)


def exact_top_k_many(unit_vectors: np.ndarray, profiles: np.ndarray,
                     watched_rows: Sequence[Sequence[int]], k: int, chunk: int = 64
                     ) -> list[list[int]]:
    """exact_top_k for many viewers: one matrix product per `chunk` viewers instead of
    reading the whole catalogue once per viewer."""
    out = []
    for start in range(0, len(profiles), chunk):
        scores = unit_vectors @ unit_rows(profiles[start:start + chunk]).T
        for j in range(scores.shape[1]):
            out.append(_top_k(scores[:, j].astype(np.float64), watched_rows[start + j], k))
    return out


def _top_k(scores: np.ndarray, watched_rows: Sequence[int], k: int) -> list[int]:
    if len(watched_rows):
        scores[np.asarray(list(watched_rows), dtype=np.int64)] = -np.inf
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return []
    # Every row scoring at least the k-th best, so that ties are cut by row, not by
    # argpartition's arbitrary choice.
    kth = -np.partition(-scores, k - 1)[k - 1]
    top = np.flatnonzero(scores >= kth)
    return sorted(top.tolist(), key=lambda i: (-scores[i], i))[:k]


def recall_at_k(returned: Sequence, exact: Sequence, k: int) -> float:
    """|first k returned ∩ exact top k| / k. An answer shorter than k counts its
    missing rows as misses (a feed page with holes), so recall is never flattered."""
    if k <= 0:
        raise ValueError("k must be positive")
    return len(set(list(returned)[:k]) & set(list(exact)[:k])) / k


def similarity_ratio(answer_rows: Sequence[int], exact_rows: Sequence[int],
                     unit_vectors: np.ndarray, profile: np.ndarray, k: int) -> float:
    """Sum of the answer's cosines over the exact top k's (missing rows add 0): how
    near the misses are. 1.0 for the exact answer or one as good."""
    p = unit_rows(profile)
    exact = float(np.sum(unit_vectors[list(exact_rows)[:k]] @ p)) if len(exact_rows) else 0.0
    if exact <= 0:
        return float("nan")
    if not len(answer_rows):
        return 0.0
    return float(np.sum(unit_vectors[list(answer_rows)[:k]] @ p)) / exact


def watched_count(returned: Sequence, history: set, k: int) -> int:
    """How many of the first k returned videos the viewer had already watched."""
    return sum(1 for v in list(returned)[:k] if v in history)


# ---------------------------------------------------------------- our retrieval stage

def needs_widening(found: int, fresh: int, limit: int, max_limit: int,
                   wanted: int | None = None) -> bool:
    """The feed's own rule (feed_rules.source_short), `wanted` defaulting to the LIMIT."""
    return source_short(found, fresh, limit, limit if wanted is None else wanted, max_limit)


def first_fresh(found: Sequence[uuid.UUID], seen: set[uuid.UUID], k: int) -> list[uuid.UUID]:
    """The first k ANN rows the viewer has not seen, in ANN order."""
    return [v for v in found if v not in seen][:k]


# ---------------------------------------------------------------- loading

PG_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def binary_copy_payload(ids: Sequence[uuid.UUID], vectors: np.ndarray) -> bytes:
    """COPY videos (videoid, embedding) FROM STDIN (FORMAT binary) input: per row a uuid
    and pgvector's binary form (int16 dimension, int16 unused, big-endian float4s).
    numpy builds it in one go; formatting 38M floats as text takes minutes in Python."""
    vectors = np.asarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    if len(ids) != n:
        raise ValueError(f"{len(ids)} ids for {n} vectors")
    row = np.dtype([("fields", ">i2"), ("id_len", ">i4"), ("id", "S16"), ("vec_len", ">i4"),
                    ("dim", ">i2"), ("unused", ">i2"), ("values", ">f4", (dim,))])
    rows = np.zeros(n, dtype=row)
    rows["fields"] = 2
    rows["id_len"] = 16
    rows["id"] = [u.bytes for u in ids]
    rows["vec_len"] = 4 + 4 * dim
    rows["dim"] = dim
    rows["values"] = vectors
    return PG_COPY_SIGNATURE + struct.pack(">ii", 0, 0) + rows.tobytes() + struct.pack(">h", -1)


def long_history(rng: np.random.Generator, unit_vectors: np.ndarray, length: int,
                 favourite_share: float = 0.7, anchors: int = 3) -> np.ndarray:
    """Row indices watched by a synthetic heavy viewer, in watch order: like the bench
    seed's viewers, `favourite_share` of the history comes from their favourite corner
    of the catalogue (here: the videos nearest `anchors` random favourite videos), the
    rest from anywhere."""
    n = unit_vectors.shape[0]
    if not 0 < length <= n:
        raise ValueError(f"a history of {length} in a catalogue of {n}")
    favourites_wanted = int(round(length * favourite_share))
    per_anchor = -(-favourites_wanted // anchors)
    chosen: dict[int, None] = {}
    for anchor in rng.choice(n, size=anchors, replace=False):
        scores = unit_vectors @ unit_vectors[anchor]
        for i in np.argsort(-scores, kind="stable")[:per_anchor]:
            if len(chosen) < favourites_wanted:
                chosen[int(i)] = None
    rest = np.setdiff1d(np.arange(n), np.fromiter(chosen, dtype=np.int64), assume_unique=True)
    extra = rng.choice(rest, size=length - len(chosen), replace=False)
    picked = np.concatenate([np.fromiter(chosen, dtype=np.int64), extra.astype(np.int64)])
    rng.shuffle(picked)
    return picked
