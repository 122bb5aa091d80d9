"""Feed shaping: the order a viewer sees, from the ranked candidates. No I/O.

1. relevance = the ranking score scaled to [0, 1] over the viewer's candidates, times
   `freshness_boost` for videos added within `freshness_days`;
2. MMR (Carbonell & Goldstein 1998) over the best `window` candidates: each position takes
   argmax  lambda * relevance - (1 - lambda) * max cosine to what is already placed;
3. in every block of `block` positions (1-10, 11-20, ...) at most `creator_cap` videos of
   one creator, and in the first block every interest that has candidates gets a slot.

Everything depends on the viewer's candidate list, never on the page asked for, so pages
are slices of one order (pages 1..n = one request for n * pageSize)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from killrvideo_reco.domain.ranking import Ranked, embeddings_of
from killrvideo_reco.domain.vectors import unit_rows

SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class ShapingParams:
    diversity_lambda: float = 0.8
    creator_cap: int = 3
    block: int = 10
    window: int = 200
    freshness_days: float = 14.0
    freshness_boost: float = 1.1


UNSHAPED = ShapingParams(diversity_lambda=1.0, creator_cap=0, freshness_boost=1.0)


def relevance(scores: np.ndarray, added_at: np.ndarray, now: float,
              params: ShapingParams) -> np.ndarray:
    """Scores scaled to [0, 1], fresh videos multiplied by the boost (NaN = no date)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        return scores
    low, high = float(scores.min()), float(scores.max())
    rel = (scores - low) / (high - low) if high > low else np.ones_like(scores)
    if params.freshness_boost != 1.0 and params.freshness_days > 0:
        with np.errstate(invalid="ignore"):
            fresh = np.asarray(added_at, dtype=np.float64) >= now - (
                params.freshness_days * SECONDS_PER_DAY)
        rel = np.where(fresh, rel * params.freshness_boost, rel)
    return rel


def shape(scores: np.ndarray, vectors: np.ndarray, creators: Sequence[object | None],
          added_at: np.ndarray, interest_of: np.ndarray, now: float,
          params: ShapingParams, positions: int | None = None) -> list[int]:
    """The shaped order, as indexes into the candidates (which come ranked best first).

    Every rule is greedy, position by position, so the first k positions never depend on
    later ones: `positions` stops after the first k (a page needs page x size of them),
    and the result is exactly the prefix of the full order."""
    n = len(scores)
    if n == 0:
        return []
    rel = relevance(scores, added_at, now, params)
    lam = params.diversity_lambda
    creator = _codes(creators)
    interest_of = np.asarray(interest_of, dtype=np.int64)
    # MMR candidates: the best `window` by relevance (after the freshness boost).
    pool = np.lexsort((np.arange(n), -rel))[:min(params.window, n)]
    unit = unit_rows(np.asarray(vectors, dtype=np.float32)[pool]) if lam < 1.0 else None
    # Masks kept up to date incrementally: the loop runs once per position.
    free = np.ones(pool.size, dtype=bool)
    capped_in_pool = np.zeros(pool.size, dtype=bool)
    pool_creator = creator[pool]
    weighted_rel = lam * rel[pool]
    max_sim = np.zeros(pool.size, dtype=np.float32)
    taken = np.zeros(n, dtype=bool)
    order: list[int] = []
    per_creator: Counter = Counter()
    capped: set[int] = set()
    covered: set[int] = set()
    tail = iter(np.lexsort((np.arange(n), -rel)).tolist())
    deferred: list[int] = []
    for position in range(n if positions is None else min(n, positions)):
        if position % params.block == 0:
            per_creator.clear()
            capped.clear()
            capped_in_pool[:] = False
            covered.clear()
        if position < pool.size:
            allowed = _narrow(free, ~capped_in_pool) if capped else free
            if position < params.block:
                allowed = _narrow(allowed, _coverage(pool, allowed, interest_of, covered,
                                                     params.block - position))
            value = weighted_rel - (1.0 - lam) * max_sim if unit is not None \
                else weighted_rel.copy()
            value[~allowed] = -np.inf
            pick = int(np.argmax(value))  # ties: the better-ranked (pool is in rank order)
            chosen = int(pool[pick])
            free[pick] = False
            if unit is not None:  # one row of the Gram matrix, only for what is picked
                np.maximum(max_sim, unit @ unit[pick], out=max_sim)
        else:
            chosen = _next_in_rank(tail, deferred, taken, creator, capped)
        taken[chosen] = True
        order.append(chosen)
        c = int(creator[chosen])
        if c >= 0 and params.creator_cap > 0:
            per_creator[c] += 1
            if per_creator[c] == params.creator_cap:
                capped.add(c)
                capped_in_pool |= pool_creator == c
        covered.add(int(interest_of[chosen]))
    return order


def _coverage(pool, allowed, interest_of, covered: set[int], slots_left: int) -> np.ndarray:
    """When the first block has only as many slots left as interests still missing from
    it, only those interests' candidates may take them."""
    interests = interest_of[pool]
    missing = {int(i) for i in np.unique(interests[allowed]) if i >= 0} - covered
    if not missing or len(missing) < slots_left:
        return np.ones_like(allowed)
    return np.isin(interests, list(missing))


def _narrow(allowed: np.ndarray, rule: np.ndarray) -> np.ndarray:
    """Apply a rule unless it would leave nothing to place (rules yield, pages never run dry)."""
    narrowed = allowed & rule
    return narrowed if narrowed.any() else allowed


def _next_in_rank(tail, deferred: list[int], taken, creator, capped) -> int:
    """Past the MMR window: the best remaining in relevance order that the creator cap
    allows, else the best remaining."""
    for n, i in enumerate(deferred):
        if not taken[i] and creator[i] not in capped:
            return deferred.pop(n)
    for i in tail:
        if taken[i]:
            continue
        if creator[i] in capped:
            deferred.append(i)
            continue
        return i
    while deferred:
        i = deferred.pop(0)
        if not taken[i]:
            return i
    raise AssertionError("no candidate left to place")


def _codes(creators: Sequence[object | None]) -> np.ndarray:
    """Creator ids as ints; -1 for unknown (never capped)."""
    codes: dict[object, int] = {}
    return np.array([-1 if c is None else codes.setdefault(c, len(codes)) for c in creators],
                    dtype=np.int64)


def shaped(ranked: list[Ranked], params: ShapingParams, now: float,
           positions: int | None = None) -> list[Ranked]:
    """A ranked list in the order the viewer sees, its first `positions` if given."""
    if not ranked:
        return []
    order = shape(
        np.array([r.score for r in ranked]), embeddings_of([r.candidate for r in ranked]),
        [r.candidate.uploader_id for r in ranked],
        np.array([np.nan if r.candidate.added_at is None else r.candidate.added_at
                  for r in ranked]),
        np.array([r.interest for r in ranked]), now, params, positions)
    return [ranked[i] for i in order]
