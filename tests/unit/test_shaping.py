"""Feed shaping: MMR, the creator cap, freshness and interest coverage."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from killrvideo_reco.domain.shaping import UNSHAPED, ShapingParams, shape

NOW = 1_700_000_000.0
DAY = 86400.0
OLD = NOW - 100 * DAY


def axis(k: int, d: int = 4) -> np.ndarray:
    v = np.zeros(d)
    v[k] = 1.0
    return v


def test_unshaped_keeps_the_ranking_order():
    scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    vectors = np.stack([axis(0)] * 5)
    order = shape(scores, vectors, ["a"] * 5, np.full(5, OLD), np.full(5, -1), NOW, UNSHAPED)
    assert order == [0, 1, 2, 3, 4]


def test_mmr_lifts_a_different_video_above_near_duplicates():
    scores = np.array([1.0, 0.95, 0.9, 0.8, 0.0])  # relevance = the scores
    vectors = np.stack([axis(0), axis(0), axis(0), axis(1), axis(2)])
    no_cap = ShapingParams(diversity_lambda=0.7, creator_cap=0, freshness_boost=1.0)
    order = shape(scores, vectors, [None] * 5, np.full(5, OLD), np.full(5, -1), NOW, no_cap)
    assert order[:2] == [0, 3]  # 0.7 * 0.8 > 0.7 * 0.95 - 0.3 * 1
    ranking_only = ShapingParams(diversity_lambda=1.0, creator_cap=0, freshness_boost=1.0)
    assert shape(scores, vectors, [None] * 5, np.full(5, OLD), np.full(5, -1), NOW,
                 ranking_only) == [0, 1, 2, 3, 4]


def test_creator_cap_per_block_of_positions():
    n = 12
    creators = ["big"] * 8 + ["other"] * 4
    params = ShapingParams(diversity_lambda=1.0, creator_cap=2, block=4, freshness_boost=1.0)
    order = shape(np.linspace(2, 1, n), np.zeros((n, 4)), creators, np.full(n, OLD),
                  np.full(n, -1), NOW, params)
    for start in range(0, n, 4):
        block = [creators[i] for i in order[start:start + 4]]
        if "other" in [creators[i] for i in order[start:]]:
            assert block.count("big") <= 2
    assert sorted(order) == list(range(n))  # when only one creator is left, it fills in


def test_freshness_boost_lifts_a_recent_video_by_the_factor():
    scores = np.array([1.0, 0.96, 0.0])  # relevance 1.0, 0.96 (x 1.1 = 1.056), 0
    added = np.array([OLD, NOW - 3 * DAY, OLD])
    fresh = ShapingParams(diversity_lambda=1.0, creator_cap=0, freshness_days=14,
                          freshness_boost=1.1)
    order = shape(scores, np.zeros((3, 4)), [None] * 3, added, np.full(3, -1), NOW, fresh)
    assert order == [1, 0, 2]
    stale = np.array([OLD, NOW - 30 * DAY, OLD])
    assert shape(scores, np.zeros((3, 4)), [None] * 3, stale, np.full(3, -1), NOW,
                 fresh) == [0, 1, 2]


def test_every_interest_gets_a_slot_in_the_first_block():
    n = 30
    interest = np.array([0] * 25 + [1] * 5)  # interest 1 ranks last
    params = ShapingParams(diversity_lambda=1.0, creator_cap=0, block=10, freshness_boost=1.0)
    order = shape(np.linspace(3, 1, n), np.zeros((n, 4)), [None] * n, np.full(n, OLD),
                  interest, NOW, params)
    assert {int(interest[i]) for i in order[:10]} == {0, 1}
    assert order[:9] == list(range(9))  # only the last slot was given up


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 60), st.integers(0, 3), st.floats(0.0, 1.0), st.integers(1, 12),
       st.integers(0, 2**31 - 1), st.integers(0, 70))
def test_shaped_order_is_a_permutation_and_pages_are_its_slices(n, cap, lam, block, seed,
                                                               positions):
    rng = np.random.default_rng(seed)
    scores = np.sort(rng.normal(size=n))[::-1]
    vectors = rng.normal(size=(n, 6))
    creators = [int(c) for c in rng.integers(0, 4, size=n)]
    interest = rng.integers(-1, 3, size=n)
    added = np.where(rng.random(n) < 0.3, NOW - DAY, OLD)
    params = ShapingParams(diversity_lambda=lam, creator_cap=cap, block=block, window=20)
    order = shape(scores, vectors, creators, added, interest, NOW, params)
    assert sorted(order) == list(range(n))
    # Deterministic: the same candidates give the same order, so any page is a slice of it.
    assert shape(scores, vectors, creators, added, interest, NOW, params) == order
    # A page computes only the positions up to its end: exactly the prefix of the order.
    assert shape(scores, vectors, creators, added, interest, NOW, params,
                 positions) == order[:positions]
