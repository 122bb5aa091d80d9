"""Experiments' pure parts: sticky hash assignment in proportion to the split, input
checks naming the field, and the results' statistics (delta-method CI, SRM, guardrails)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import numpy as np
import pytest

from killrvideo_reco.domain.experiment_results import results
from killrvideo_reco.domain.experiments import (
    Experiment,
    InvalidExperiment,
    Variant,
    check_shape,
    variant_index,
)

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def two(a=50, b=50, **overrides) -> Experiment:
    return Experiment(uuid.uuid1(), "t", "salt", (Variant("a", a), Variant("b", b, overrides)),
                      "running", NOW)


def test_assignment_is_sticky_and_follows_the_split():
    users = [uuid.UUID(int=int(n)) for n in np.random.default_rng(1).integers(0, 2**63, 20_000)]
    shares = np.bincount([variant_index("s", u, [20, 30, 50]) for u in users]) / len(users)
    assert np.allclose(shares, [0.2, 0.3, 0.5], atol=0.015)
    assert [variant_index("s", u, [50, 50]) for u in users[:50]] == \
           [variant_index("s", u, [50, 50]) for u in users[:50]]
    other_salt = [variant_index("t", u, [50, 50]) for u in users[:400]]
    assert other_salt != [variant_index("s", u, [50, 50]) for u in users[:400]]


@pytest.mark.parametrize("variants, field", [
    ([Variant("a", 100)], "variants"),
    ([Variant("a", 50), Variant("a", 50)], "variants"),
    ([Variant("a", 50), Variant("b", 40)], "variants"),
    ([Variant("a", 50), Variant("b", 50, {"nope": 1})], "variants.1.overrides.nope"),
    ([Variant("a", 50), Variant("b", 50, {"popularity": 1})], "variants.1.overrides.popularity"),
])
def test_bad_shapes_name_the_field(variants, field):
    with pytest.raises(InvalidExperiment) as raised:
        check_shape(variants)
    assert raised.value.field == field


def viewers(rng, name, n, ctr):
    impressions = rng.integers(5, 30, n)
    clicks = rng.binomial(impressions, ctr)
    return [(name, uuid.uuid4(), int(i), int(c), int(c) * 60) for i, c in zip(impressions, clicks)]


def test_a_real_difference_has_a_ci_above_zero_and_aa_covers_zero():
    rng = np.random.default_rng(3)
    lifted = results(two(), viewers(rng, "a", 2000, 0.10) + viewers(rng, "b", 2000, 0.13), {})
    ci = lifted.variants[1].ctr_vs_control
    assert ci is not None and 0 < ci.low < 0.03 < ci.high
    assert not lifted.sample_ratio_mismatch and not lifted.warnings
    same = results(two(), viewers(rng, "a", 2000, 0.10) + viewers(rng, "b", 2000, 0.10), {})
    ci = same.variants[1].ctr_vs_control
    assert ci is not None and ci.low < 0 < ci.high


def test_srm_warnings_and_guardrails():
    rng = np.random.default_rng(4)
    skewed = results(two(), viewers(rng, "a", 600, 0.1) + viewers(rng, "b", 400, 0.1), {})
    assert skewed.sample_ratio_mismatch and skewed.srm_p_value < 1e-6
    small = results(two(), viewers(rng, "a", 20, 0.1) + viewers(rng, "b", 20, 0.1), {})
    assert len(small.warnings) == 2
    health = {"a": {"requests": 1000, "errors": 2, "le_50": 995, "le_100": 5},
              "b": {"requests": 1000, "errors": 40, "le_50": 900, "le_250": 100}}
    flagged = results(two(), viewers(rng, "a", 200, 0.1) + viewers(rng, "b", 200, 0.1), health)
    assert flagged.variants[0].guardrails == ()
    assert len(flagged.variants[1].guardrails) == 2  # error rate and p99 (250 vs 50 ms)
