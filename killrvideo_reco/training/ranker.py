"""Fitting the feed's ranking weights on the platform's own history.

Each sampled viewer's latest positives are held out as labels; the factor model is fitted
on the rest. For every viewer the same three candidate sources as the feed (behaviour
neighbours, content neighbours, most popular) are ranked exactly in memory, their features
computed as the feed computes them, and a logistic regression learns how much each
feature says about what the viewer watched next.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from killrvideo_reco.domain.models import CandidateSizes
from killrvideo_reco.domain.ranking import FEATURES, RankerWeights
from killrvideo_reco.training.ndcg import ndcg_at_k

K = 10


@dataclass
class ViewerCase:
    """One held-out viewer: what they watched before, what they watched next."""
    seen: np.ndarray           # item indexes of the fit part
    labels: set[int]           # item indexes held out
    behaviour: np.ndarray | None  # raw behaviour vector from the fit part
    content: np.ndarray | None    # unit content preference vector, or None
    recent: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #                    item indexes of the fit part's latest positives, newest first


def holdout_mask(users: np.ndarray, items: np.ndarray, times: np.ndarray,
                 per_viewer: int, min_kept: int = 3) -> np.ndarray:
    """True for the positives held out: each viewer's `per_viewer` latest, for viewers
    who keep at least `min_kept` positives besides."""
    order = np.lexsort((items, times, users))  # by viewer, then time, item as tie-break
    held = np.zeros(users.size, dtype=bool)
    sorted_users = users[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    ends = np.r_[starts[1:], sorted_users.size]
    for start, end in zip(starts, ends):
        if end - start >= per_viewer + min_kept:
            held[order[end - per_viewer:end]] = True
    return held


def popularity_counts(users: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """Distinct viewers per item (a viewer's repeat positives count once)."""
    pairs = np.unique(np.stack([users, items]), axis=1) if users.size else np.zeros((2, 0), int)
    return np.bincount(pairs[1], minlength=n_items)


def popularity(items: np.ndarray, users: np.ndarray, n_items: int) -> np.ndarray:
    """log(1 + distinct viewers) scaled to [0, 1], the feature the feed reads."""
    return log_scaled(popularity_counts(users, items, n_items))


def log_scaled(counts: np.ndarray) -> np.ndarray:
    """Counts -> log(1 + count) / log(1 + max count), float64; all zeros stay zeros."""
    counts = counts.astype(np.float64)
    top = counts.max() if counts.size else 0.0
    return np.log1p(counts) / math.log1p(top) if top > 0 else counts


def candidate_features(case: ViewerCase, item_vectors: np.ndarray, bound: float,
                       content: np.ndarray, pop: np.ndarray, sizes: CandidateSizes
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(item indexes, features in FEATURES order) of the union of the feed's sources."""
    n = item_vectors.shape[0]
    b = np.zeros(n)
    if case.behaviour is not None and np.linalg.norm(case.behaviour) > 1e-12:
        b = item_vectors @ case.behaviour / (np.linalg.norm(case.behaviour) * bound)
    c = content @ case.content if case.content is not None else np.zeros(n)
    co_watched, lists = just_watched(case.recent, item_vectors, bound, sizes)
    idx = top_unseen(case.seen, [(scores, size) for scores, size, on in (
        (b, sizes.behaviour, case.behaviour is not None),
        (c, sizes.content, case.content is not None), (pop, sizes.popular, True),
        *((scores, sizes.just_watched_rows, True) for scores in lists)) if on])
    return idx, np.stack([b[idx], c[idx], pop[idx], co_watched[idx]], axis=1)


def just_watched(recent: np.ndarray, item_vectors: np.ndarray, bound: float,
                 sizes: CandidateSizes) -> tuple[np.ndarray, list[np.ndarray]]:
    """The just-watched feature of every item (its best similarity within the neighbour
    lists of the viewer's latest positives, 0 outside them) and each list's scores over
    the catalogue (-inf outside it), as serving reads the lists written at training."""
    n = item_vectors.shape[0]
    feature, lists = np.full(n, -np.inf), []
    for item in recent[:sizes.just_watched_videos]:
        norm = np.linalg.norm(item_vectors[item])
        if sizes.neighbours <= 0 or not norm > 1e-12:
            continue
        scores = item_vectors @ item_vectors[item] / (norm * bound)
        scores[item] = -np.inf
        scores[~item_vectors.any(axis=1)] = -np.inf  # untrained here: in no list
        kept = np.argpartition(-scores, min(sizes.neighbours, n - 1))[:sizes.neighbours]
        listed = np.full(n, -np.inf)
        listed[kept] = scores[kept]
        lists.append(listed)
        feature = np.maximum(feature, listed)
    return np.where(np.isfinite(feature), feature, 0.0), lists


def latest_first(items: np.ndarray, times: np.ndarray, count: int) -> np.ndarray:
    """A viewer's `count` latest distinct items, newest first (ties: higher item first)."""
    order = np.lexsort((-np.asarray(items), -np.asarray(times, dtype=np.float64)))
    return np.array(list(dict.fromkeys(np.asarray(items)[order].tolist()))[:count],
                    dtype=np.int64)


def top_unseen(seen: np.ndarray, sources: Sequence[tuple[np.ndarray, int]]) -> np.ndarray:
    """Sorted item indexes: the union of each source's `size` best unseen items, as the
    feed's candidate sources each return their top rows."""
    picked: set[int] = set()
    for scores, size in sources:
        if not size:
            continue
        masked = np.asarray(scores, dtype=np.float64).copy()
        masked[seen] = -np.inf
        top = np.argpartition(-masked, min(size, masked.size - 1))[:size]
        picked.update(int(i) for i in top if np.isfinite(masked[i]))
    return np.array(sorted(picked), dtype=np.int64)


def fit_weights(cases: list[ViewerCase], item_vectors: np.ndarray, bound: float,
                content: np.ndarray, pop: np.ndarray, sizes: CandidateSizes,
                seed: int = 7) -> tuple[RankerWeights, dict]:
    """Fit on half the viewers, report NDCG@10 on the other half, then refit on all."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(cases))
    fit_half, report_half = order[: len(order) // 2], order[len(order) // 2:]
    built = [candidate_features(c, item_vectors, bound, content, pop, sizes) for c in cases]

    def design(which):
        xs = [built[i][1] for i in which]
        ys = [np.isin(built[i][0], list(cases[i].labels)) for i in which]
        return ((np.vstack(xs), np.concatenate(ys)) if xs
                else (np.zeros((0, len(FEATURES))), np.zeros(0)))

    def learn(which) -> RankerWeights:
        x, y = design(which)
        if y.size == 0 or y.all() or not y.any():
            return RankerWeights()
        model = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
        return RankerWeights(dict(zip(FEATURES, map(float, model.coef_[0]))), "fitted")

    holdout = learn(fit_half)
    quality: dict[str, float] = {"viewers": len(report_half)}
    for name, weights in (("popularity", {"popularity": 1.0}), ("behaviour", {"behaviour": 1.0}),
                          ("content", {"content": 1.0}),
                          ("just watched", {"just_watched": 1.0, "behaviour": 1e-3}),
                          ("ranked", holdout.weights)):
        ranker = RankerWeights(weights)
        quality[f"ndcg@10 {name}"] = round(float(np.mean([
            _ndcg(built[i][0], ranker.score(built[i][1]), cases[i].labels)
            for i in report_half])) if len(report_half) else 0.0, 4)
    return learn(order), quality


def _ndcg(idx: np.ndarray, scores: np.ndarray, labels: set[int]) -> float:
    if not labels:
        return 0.0
    # Best score first, the lower item index first among ties.
    return ndcg_at_k(idx[np.lexsort((idx, -scores))].tolist(), labels, K)
