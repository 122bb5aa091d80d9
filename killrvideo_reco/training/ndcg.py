"""NDCG@k with binary relevance: the one definition the ranker fit and the offline
evaluation both report (pure; evaluation may import training, never the reverse)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Hashable


def ndcg_at_k(recommended: Sequence[Hashable], relevant: set, k: int = 10) -> float:
    """DCG of the hits (1/log2(rank+1), rank from 1) over the best possible DCG.
    `recommended` is best first; a list shorter than k counts as it is."""
    if not relevant:
        raise ValueError("NDCG is undefined without relevant items")
    dcg = sum(1.0 / math.log2(rank + 2) for rank, item in enumerate(recommended[:k])
              if item in relevant)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return dcg / ideal
