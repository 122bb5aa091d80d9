"""Top-k quality metrics with binary relevance. Pure functions on plain ids.

A recommended list is best first; `relevant` is the set of held-out items the user
liked. Lists shorter than k count as they are (missing slots are misses).
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from killrvideo_reco.training.ndcg import ndcg_at_k

K = TypeVar("K", bound=Hashable)  # a user id


def recall_at_k(recommended: Sequence[Hashable], relevant: set, k: int = 10) -> float:
    """Share of the relevant items found in the top k (|relevant| <= k here, so no cap)."""
    if not relevant:
        raise ValueError("recall is undefined without relevant items")
    return len(set(recommended[:k]) & relevant) / len(relevant)


def hit_rate_at_k(recommended: Sequence[Hashable], relevant: set, k: int = 10) -> float:
    return 1.0 if set(recommended[:k]) & relevant else 0.0


def coverage(lists: Mapping[Hashable, Sequence[Hashable]], catalogue_size: int) -> float:
    """Distinct items recommended to anyone / catalogue size."""
    distinct = {item for items in lists.values() for item in items}
    return len(distinct) / catalogue_size if catalogue_size else 0.0


def intra_list_diversity(vectors: np.ndarray) -> float | None:
    """Mean pairwise (1 - cosine) of one list's item vectors; None below two items."""
    v = np.asarray(vectors, dtype=np.float64)
    if v.shape[0] < 2:
        return None
    # Not domain.vectors.unit_rows: a row of norm <= 1e-12 (or NaN) is kept as it is,
    # not zeroed, so a broken vector still shows in the metric.
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    unit = v / np.where(norms > 1e-12, norms, 1.0)
    sims = unit @ unit.T
    n = v.shape[0]
    mean_sim = (sims.sum() - np.trace(sims)) / (n * (n - 1))
    return float(1.0 - mean_sim)


def summarise(lists: Mapping[K, Sequence[Hashable]], relevant: Mapping[K, set],
              vector_of, catalogue_size: int, k: int = 10) -> dict[str, Any]:
    """Mean of each per-user metric over the users in `relevant`, plus coverage.
    A user missing from `lists` got nothing: zero for the accuracy metrics."""
    recall, ndcg, hits, ild = [], [], [], []
    for user, rel in relevant.items():
        items = list(lists.get(user, ()))[:k]
        recall.append(recall_at_k(items, rel, k))
        ndcg.append(ndcg_at_k(items, rel, k))
        hits.append(hit_rate_at_k(items, rel, k))
        d = intra_list_diversity(np.stack([vector_of(i) for i in items])) if len(items) > 1 else None
        if d is not None:
            ild.append(d)
    mean = lambda xs: float(np.mean(xs)) if xs else 0.0  # noqa: E731
    return {"recall": mean(recall), "ndcg": mean(ndcg), "hit_rate": mean(hits),
            "coverage": coverage({u: list(lists.get(u, ()))[:k] for u in relevant},
                                 catalogue_size),
            "diversity": mean(ild), "users": len(relevant), "ndcg_per_user": ndcg}


def paired_bootstrap(a: Sequence[float], b: Sequence[float], resamples: int = 2000,
                     seed: int = 0) -> tuple[float, float, float]:
    """Mean of a - b (per-user values, same users in the same order) and its 95%
    percentile interval from resampling users: is a difference more than noise?"""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if d.size == 0:
        return 0.0, 0.0, 0.0
    idx = np.random.default_rng(seed).integers(0, d.size, size=(resamples, d.size))
    means = d[idx].mean(axis=1)
    return float(d.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))
