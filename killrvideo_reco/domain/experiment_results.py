"""Reading an experiment: per-variant metrics, the difference from control with a 95%
confidence interval at the viewer level (the unit of randomisation), the sample-ratio-
mismatch check, a minimum-sample warning and guardrails.

CTR and watch seconds per impression are ratios of per-viewer sums; their variance is
the delta method's over per-viewer (clicks, impressions) pairs, so a viewer who saw a
hundred pages counts as one correlated unit, not a hundred independent ones.
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from killrvideo_reco.domain.experiments import Experiment

SRM_ALPHA = 0.001  # a sample ratio this unlikely under the split means broken assignment
MIN_VIEWERS = 100  # per variant, before a difference is worth reading
MIN_CLICKS = 30
# Latency buckets (ms) of the per-variant request histogram: p99 is read off these.
LATENCY_BUCKETS_MS = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000)
ERROR_RATE_MARGIN = 0.01  # a variant's error rate this much above control's is flagged...
ERROR_RATE_FACTOR = 2.0  # ...if also this many times control's
P99_FACTOR = 1.5  # a p99 this many times control's is flagged


@dataclass(frozen=True)
class Interval:
    difference: float
    low: float
    high: float


@dataclass(frozen=True)
class VariantResult:
    name: str
    percent: int
    viewers: int
    impressions: int
    clicks: int
    watch_seconds: int
    ctr: float | None
    watch_seconds_per_impression: float | None
    requests: int
    error_rate: float | None
    p99_ms: float | None
    ctr_vs_control: Interval | None
    watch_vs_control: Interval | None
    guardrails: tuple[str, ...]


@dataclass(frozen=True)
class Results:
    variants: tuple[VariantResult, ...]
    srm_p_value: float | None
    sample_ratio_mismatch: bool
    warnings: tuple[str, ...]


def _ratio_and_variance(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """sum(x)/sum(y) over viewers, and its delta-method variance."""
    n = len(x)
    if n < 2 or y.sum() == 0:
        return None
    ratio = x.sum() / y.sum()
    mean_y = y.mean()
    cov = np.cov(x, y, ddof=1)
    variance = (cov[0, 0] - 2 * ratio * cov[0, 1] + ratio ** 2 * cov[1, 1]) / (n * mean_y ** 2)
    return float(ratio), float(max(variance, 0.0))


def _difference(treated: tuple[float, float] | None,
                control: tuple[float, float] | None) -> Interval | None:
    if treated is None or control is None:
        return None
    diff = treated[0] - control[0]
    half = float(stats.norm.ppf(0.975)) * float(np.sqrt(treated[1] + control[1]))
    return Interval(diff, diff - half, diff + half)


def p99_ms(histogram: Mapping[str, int]) -> float | None:
    """The upper bound of the bucket holding the 99th percentile (le_<ms> counts are
    non-cumulative here: each request is in the first bucket at or above its time)."""
    total = histogram.get("requests", 0)
    if not total:
        return None
    seen = 0
    for bound in LATENCY_BUCKETS_MS:
        seen += histogram.get(f"le_{bound}", 0)
        if seen >= 0.99 * total:
            return float(bound)
    return float("inf")


def results(experiment: Experiment,
            viewers: Sequence[tuple[str, uuid.UUID, int, int, int]],
            requests: Mapping[str, Mapping[str, int]]) -> Results:
    by_variant: dict[str, list[tuple[int, int, int]]] = {v.name: [] for v in experiment.variants}
    for variant, _, impressions, clicks, seconds in viewers:
        if variant in by_variant and impressions > 0:
            by_variant[variant].append((impressions, clicks, seconds))
    arrays = {name: np.array(rows, dtype=float).reshape(-1, 3)
              for name, rows in by_variant.items()}
    control = experiment.control.name
    ctr = {n: _ratio_and_variance(a[:, 1], a[:, 0]) for n, a in arrays.items()}
    watch = {n: _ratio_and_variance(a[:, 2], a[:, 0]) for n, a in arrays.items()}
    health = {n: requests.get(n, {}) for n in arrays}
    out, warnings = [], []
    for v in experiment.variants:
        a, h = arrays[v.name], health[v.name]
        total = h.get("requests", 0)
        error_rate = h.get("errors", 0) / total if total else None
        flags: list[str] = []
        control_errors = (health[control].get("errors", 0) / health[control]["requests"]
                          if health[control].get("requests") else None)
        if v.name != control and error_rate is not None and control_errors is not None and (
                error_rate > control_errors + ERROR_RATE_MARGIN
                and error_rate > ERROR_RATE_FACTOR * control_errors):
            flags.append(f"error rate {error_rate:.3f} vs control's {control_errors:.3f}")
        p99, control_p99 = p99_ms(h), p99_ms(health[control])
        if v.name != control and p99 and control_p99 and p99 >= P99_FACTOR * control_p99:
            flags.append(f"p99 latency {p99:g} ms vs control's {control_p99:g} ms")
        if len(a) < MIN_VIEWERS or a[:, 1].sum() < MIN_CLICKS:
            warnings.append(f"variant {v.name}: {len(a)} viewers and {int(a[:, 1].sum())} "
                            f"attributed views; read differences only from {MIN_VIEWERS} "
                            f"viewers and {MIN_CLICKS} views a variant")
        own_ctr, own_watch = ctr[v.name], watch[v.name]
        out.append(VariantResult(
            v.name, v.percent, len(a), int(a[:, 0].sum()), int(a[:, 1].sum()),
            int(a[:, 2].sum()), own_ctr[0] if own_ctr else None,
            own_watch[0] if own_watch else None, total, error_rate, p99,
            None if v.name == control else _difference(ctr[v.name], ctr[control]),
            None if v.name == control else _difference(watch[v.name], watch[control]),
            tuple(flags)))
    counts = np.array([len(arrays[v.name]) for v in experiment.variants], dtype=float)
    p_value = None
    if counts.sum() > 0:
        expected = counts.sum() * np.array([v.percent for v in experiment.variants]) / 100
        if (expected > 0).all():
            p_value = float(stats.chisquare(counts, expected).pvalue)
    return Results(tuple(out), p_value, p_value is not None and p_value < SRM_ALPHA,
                   tuple(warnings))
