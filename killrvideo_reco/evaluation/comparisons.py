"""Comparing two methods of one evaluation: by paired bootstrap over the same users."""
from __future__ import annotations

from killrvideo_reco.evaluation import metrics
from killrvideo_reco.evaluation.pipeline import MethodResult, RunResult


def by_key(result: RunResult) -> dict[str, MethodResult]:
    return {m.key: m for m in result.methods}


def versus(a: MethodResult, b: MethodResult) -> tuple[bool, str, str]:
    """(a beats b, 'beats' | 'is worse than' | 'is not distinguishable from', CI text):
    a difference counts only when its 95% interval excludes zero."""
    diff, lo, hi = metrics.paired_bootstrap(a.metrics["ndcg_per_user"],
                                            b.metrics["ndcg_per_user"])
    word = "beats" if lo > 0 else "is worse than" if hi < 0 else "is not distinguishable from"
    return lo > 0, word, f"NDCG@10 difference {diff:+.4f}, 95% CI [{lo:+.4f}, {hi:+.4f}]"
