"""The helpers several layers share (issue 18): one NDCG, one popularity count."""
import math

import numpy as np
import pytest

from killrvideo_reco.evaluation import metrics
from killrvideo_reco.training import ranker
from killrvideo_reco.training.ndcg import ndcg_at_k


def test_one_ndcg_for_training_and_evaluation():
    assert metrics.ndcg_at_k is ndcg_at_k
    assert ndcg_at_k([9, 1, 3], {1}) == pytest.approx(1 / math.log2(3))
    # ideal DCG counts min(|relevant|, k) hits
    assert ndcg_at_k([1, 2, 3], {1, 2, 3}, k=2) == pytest.approx(1.0)
    assert ndcg_at_k([5, 1], {1, 2, 3}, k=2) == pytest.approx(
        (1 / math.log2(3)) / (1 + 1 / math.log2(3)))


def test_ranker_ndcg_ranks_by_score_then_index():
    idx = np.array([4, 2, 7, 9])
    scores = np.array([0.5, 0.5, 0.9, 0.1])  # 7 first; 2 before 4 on the tie
    assert ranker._ndcg(idx, scores, {4}) == pytest.approx(1 / math.log2(4))
    assert ranker._ndcg(idx, scores, {2, 7}) == pytest.approx(1.0)
    assert ranker._ndcg(idx, scores, set()) == 0.0
    # only the top K count
    many = np.arange(30)
    assert ranker._ndcg(many, -many.astype(float), {ranker.K}) == 0.0


def test_popularity_is_log_scaled_distinct_viewers():
    users = np.array([0, 0, 1, 2, 2])
    items = np.array([1, 1, 1, 0, 1])  # viewer 0 twice on item 1: counts once
    assert ranker.popularity_counts(users, items, 3).tolist() == [1, 3, 0]
    np.testing.assert_array_equal(ranker.popularity(items, users, 3),
                                  np.log1p([1.0, 3.0, 0.0]) / math.log1p(3))
    empty = np.zeros(0, dtype=np.int64)
    assert ranker.popularity_counts(empty, empty, 2).tolist() == [0, 0]
    assert ranker.popularity(empty, empty, 2).tolist() == [0.0, 0.0]


def test_unit_rows_zero_and_tiny_rows_per_mode():
    from killrvideo_reco.domain.vectors import unit_rows

    m = np.array([[3.0, 4.0], [0.0, 0.0], [3e-14, 4e-14]], dtype=np.float32)
    np.testing.assert_allclose(unit_rows(m), [[0.6, 0.8], [0, 0], [0, 0]])
    floored = unit_rows(m, floor=1e-12)  # the embedding providers' and training's rule
    assert floored.dtype == np.float32
    np.testing.assert_allclose(floored, [[0.6, 0.8], [0, 0], [0.03, 0.04]], rtol=1e-5)
    with np.errstate(invalid="ignore"):
        plain = unit_rows(m, floor=0.0)  # plain division: a zero row gives NaN
    assert np.isnan(plain[1]).all()
    np.testing.assert_allclose(plain[[0, 2]], [[0.6, 0.8], [0.6, 0.8]], rtol=1e-5)


def test_one_slot_list_names_the_behaviour_columns():
    from types import SimpleNamespace

    from killrvideo_reco.domain.behaviour import SLOTS, other_slot
    from killrvideo_reco.store import schema, videos
    from killrvideo_reco.store.rows import SLOT_COLUMNS, slot_vectors

    assert [other_slot(s) for s in SLOTS] == list(reversed(SLOTS))
    assert SLOT_COLUMNS == "behaviour_a, behaviour_a_run, behaviour_b, behaviour_b_run"
    assert videos.FACTS_COLUMNS.endswith(SLOT_COLUMNS)
    assert schema.BEHAVIOUR_COLUMNS == (
        ("videos", "behaviour_a", 1), ("videos", "behaviour_b", 1),
        ("user_preferences", "behaviour_a", 0), ("user_preferences", "behaviour_b", 0))
    row = SimpleNamespace(behaviour_a=[1.0], behaviour_a_run="r1",
                          behaviour_b=[2.0], behaviour_b_run=None)  # b: no run, not used
    assert slot_vectors(row) == {"a": ("r1", [1.0])}
    assert slot_vectors(row, len) == {"a": ("r1", 1)}


def test_log_scaled_is_what_popularity_applies_to_the_counts():
    counts = np.array([0, 4, 1])
    np.testing.assert_array_equal(ranker.log_scaled(counts),
                                  ranker.popularity(np.array([1, 1, 1, 1, 2]),
                                                    np.array([0, 1, 2, 3, 0]), 3))
    assert ranker.log_scaled(np.zeros(2, dtype=np.int64)).tolist() == [0.0, 0.0]
