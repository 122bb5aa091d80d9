"""The engines' lines of docs/quality.md (make eval TRAIN_ENGINE=spark): the Spark
engine's ALS against the local engine's, over seeds, and where their feeds differ."""
from __future__ import annotations

from killrvideo_reco.evaluation.comparisons import by_key, versus
from killrvideo_reco.evaluation.engines import ENGINES, FLAT, base_key
from killrvideo_reco.evaluation.pipeline import RunResult

GAIN_NAMES = {ENGINES[0][0]: "local", ENGINES[1][0]: "Spark", FLAT[0]: "local, flat penalty"}


def engine_lines(result: RunResult) -> list[str]:
    """The Spark row against the local engine's ALS and the default PureSVD feed."""
    m = by_key(result)
    if "foryou_als_spark" not in m or "foryou_als_local" not in m:
        return []
    spark, local, svd = m["foryou_als_spark"], m["foryou_als_local"], m["foryou"]
    gap = spark.metrics["ndcg"] / max(local.metrics["ndcg"], 1e-9) - 1
    _, word, ci = versus(spark, local)
    times = ", ".join(f"{name} {result.engines[key]['wallSeconds']} s" for key, name in (
        ("foryou_als_local", "local"), ("foryou_als_spark", "Spark")))
    lines = [f"**Spark engine**: For You after ALS trained by Spark MLlib, NDCG@10 "
             f"{spark.metrics['ndcg']:.4f}, vs {local.metrics['ndcg']:.4f} after the local "
             f"engine's ALS with the same hyper-parameters: {gap:+.1%} (target: within 5%: "
             f"{'met' if abs(gap) <= 0.05 else 'NOT met'}); Spark {word} local ({ci}). "
             f"Training with the profile rebuild: {times}."]
    for row, name in ((local, "local ALS"), (spark, "Spark ALS")):
        _, word, ci = versus(row, svd)
        lines.append(f"Against the default PureSVD feed ({svd.metrics['ndcg']:.4f}), {name} "
                     f"{word} it ({ci}).")
    flat = next((m[k] for k in result.engines if base_key(k) == FLAT[0]), None)
    if flat is not None:
        _, word, ci = versus(spark, flat)
        lines.append(f"With `implicit`'s flat penalty instead (TRAIN_ALS_PENALTY=flat, the "
                     f"local engine's default) local ALS scores {flat.metrics['ndcg']:.4f}: "
                     f"Spark {spark.metrics['ndcg'] / max(flat.metrics['ndcg'], 1e-9) - 1:+.1%}"
                     f", {word} it ({ci}).")
    return lines + seed_lines(result)


def seed_lines(result: RunResult) -> list[str]:
    """Both engines over every seed trained: the gap per seed and of the means."""
    m = by_key(result)
    seeds = sorted({s["seed"] for s in result.engines.values() if "seed" in s})
    pairs = []
    for seed in seeds:
        local, spark = (next((m[k] for k, s in result.engines.items()
                              if s.get("seed") == seed and base_key(k) == engine), None)
                        for engine in ("foryou_als_local", "foryou_als_spark"))
        if local is not None and spark is not None:
            pairs.append((seed, local.metrics["ndcg"], spark.metrics["ndcg"]))
    if len(pairs) < 2:
        return []
    local_mean = sum(p[1] for p in pairs) / len(pairs)
    spark_mean = sum(p[2] for p in pairs) / len(pairs)
    gap = spark_mean / max(local_mean, 1e-9) - 1
    each = "; ".join(f"seed {seed}: local {lo:.4f}, Spark {sp:.4f} ({sp / max(lo, 1e-9) - 1:+.1%})"
                     for seed, lo, sp in pairs)
    return [f"**Engines over {len(pairs)} seeds** (TRAIN_SEED; the variants table has the "
            f"rows): {each}. Means: local {local_mean:.4f}, Spark {spark_mean:.4f}, "
            f"{gap:+.1%} (target: within 5%: {'met' if abs(gap) <= 0.05 else 'NOT met'} "
            "on the means)."] + ranker_gain_lines(result)


def ranker_gain_lines(result: RunResult) -> list[str]:
    """What the fitted ranking weights add to the behaviour score alone, in each ALS run's
    own hold-out (training's quality): where the engines' feeds differ (docs/operations.md)."""
    gains: dict[str, list[float]] = {}
    for key, summary in result.engines.items():
        quality = summary.get("quality") or {}
        alone, ranked = quality.get("ndcg@10 behaviour"), quality.get("ndcg@10 ranked")
        if alone and ranked is not None:
            gains.setdefault(GAIN_NAMES[base_key(key)], []).append(ranked / alone - 1)
    if len(gains) < 2:
        return []
    each = "; ".join(f"{engine} " + ", ".join(f"{g:+.0%}" for g in found)
                     for engine, found in sorted(gains.items()))
    return [f"In each run's own hold-out (the ranking-weight fit's half of the viewers), "
            f"the fitted weights over the behaviour score alone: {each}."]
