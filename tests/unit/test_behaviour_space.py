"""The behaviour space's maths: MIPS -> cosine, the content map, training on synthetic
co-watching, and the fitted ranking."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from killrvideo_reco.domain.behaviour import ContentMap, index_vectors, max_norm, query_vector, raw_vector
from killrvideo_reco.domain.models import HistoryRow
from killrvideo_reco.domain.ranking import RankerWeights
from killrvideo_reco.training.factors import FactorConfig
from killrvideo_reco.training.interactions import History
from killrvideo_reco.training.model import TrainingConfig, train
from killrvideo_reco.training.ranker import holdout_mask


def test_cosine_on_transformed_vectors_ranks_exactly_like_inner_product():
    rng = np.random.default_rng(5)
    items = rng.normal(size=(2000, 16)) * rng.uniform(0.1, 3.0, size=(2000, 1))
    bound = max_norm(items)
    index = index_vectors(items, bound).astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(index, axis=1), 1.0, atol=1e-6)
    for _ in range(20):
        q = rng.normal(size=16) * rng.uniform(0.1, 10)
        by_inner = np.argsort(-(items @ q), kind="stable")[:50]
        cosine = index @ query_vector(q).astype(np.float64)  # both unit: dot = cosine
        by_cosine = np.argsort(-cosine, kind="stable")[:50]
        assert list(by_cosine) == list(by_inner)
        # And the cosine is the inner product rescaled, so it can serve as a feature.
        np.testing.assert_allclose(cosine, items @ q / (np.linalg.norm(q) * bound), atol=1e-6)


def test_index_vectors_round_trip_and_clip_to_the_bound():
    x = np.array([[3.0, 4.0], [0.3, 0.4], [30.0, 40.0]])
    index = index_vectors(x, bound=5.0)
    np.testing.assert_allclose(raw_vector(index[0], 5.0), [3.0, 4.0], atol=1e-5)
    np.testing.assert_allclose(raw_vector(index[1], 5.0), [0.3, 0.4], atol=1e-5)
    np.testing.assert_allclose(raw_vector(index[2], 5.0), [3.0, 4.0], atol=1e-5), "clipped"
    assert query_vector(np.zeros(2)) is None


def test_content_map_round_trips():
    weights = np.arange(12, dtype=np.float64).reshape(4, 3) / 7
    restored = ContentMap.from_bytes(ContentMap(weights).to_bytes())
    np.testing.assert_allclose(restored.weights, weights, rtol=1e-6)
    np.testing.assert_allclose(restored.predict(np.ones(3)), [weights.sum(axis=0)], rtol=1e-5)


def test_ranker_weights_round_trip_and_score():
    ranker = RankerWeights({"behaviour": 2.0, "content": 0.5, "popularity": 1.0}, "fitted")
    again = RankerWeights.from_json(ranker.to_json())
    assert again == ranker
    assert list(again.score(np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.5]]))) == [2.0, 1.5]
    # A run fitted before the just-watched feature weighs it 0.
    assert RankerWeights.from_json(None).source == "default"


def test_holdout_takes_each_viewers_latest_positives():
    users = np.array([0, 0, 0, 0, 0, 1, 1])
    items = np.array([1, 2, 3, 4, 5, 1, 2])
    times = np.array([5, 1, 4, 2, 3, 1, 2], dtype=float)
    held = holdout_mask(users, items, times, per_viewer=2, min_kept=3)
    assert set(items[held]) == {1, 3}, "viewer 0's two latest; viewer 1 has too few"


def synthetic(n_topics=4, per_topic=30, viewers_per_topic=40, seed=3):
    """Viewers watch within one topic; content vectors are noisy topic directions."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_topics, 12))
    videos = [uuid.uuid4() for _ in range(n_topics * per_topic)]
    content = np.vstack([centres[i // per_topic] + 0.8 * rng.normal(size=12)
                         for i in range(len(videos))]).astype(np.float32)
    history, now = History(), datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows = []
    for topic in range(n_topics):
        pool = videos[topic * per_topic:(topic + 1) * per_topic]
        for _ in range(viewers_per_topic):
            user = uuid.uuid4()
            for _n, video in enumerate(rng.choice(len(pool), 12, replace=False)):
                at = now - timedelta(days=int(rng.integers(0, 300)))
                rows.append((user, HistoryRow(pool[video], at, at, 1, 540.0, 600.0)))
    history.add_rows(rows, TrainingConfig().params)
    return history, videos, content, per_topic


@pytest.mark.parametrize("model", ["svd", "als"])
def test_training_learns_co_watching_and_places_unwatched_videos(model):
    history, videos, content, per_topic = synthetic()
    held_out = set(videos[per_topic - 3:per_topic])  # three topic-0 videos nobody trains on
    config = TrainingConfig(factors=FactorConfig(model, dimension=8, iterations=10))
    trained = train(history, videos, content, config, exclude=held_out)

    assert trained.index.shape == (len(videos), 9)
    assert trained.trained_videos == len(videos) - 3
    raw = trained.index[:, :-1] * trained.bound
    topic = np.arange(len(videos)) // per_topic
    # A topic-0 viewer's vector scores topic-0 videos above the others.
    viewer = next(i for i, (u, r) in enumerate(zip(trained.viewer_ids, trained.viewers))
                  if np.argmax([(raw[topic == t] @ r).mean() for t in range(4)]) == 0)
    scores = raw @ trained.viewers[viewer]
    top = np.argsort(-scores)[:per_topic]
    assert (topic[top] == 0).mean() > 0.8
    # Unwatched videos got vectors from the content map that land near their topic.
    for video in held_out:
        row = videos.index(video)
        centroid = [raw[(topic == t) & (np.arange(len(videos)) != row)].mean(axis=0)
                    for t in range(4)]
        assert int(np.argmax([c @ raw[row] for c in centroid])) == 0
    q = trained.quality
    assert q["ndcg@10 ranked"] > q["ndcg@10 popularity"]
    assert trained.ranker.source == "fitted"
    # ALS runs carry (Y^T Y + lambda I)^-1 for the viewers' queries; PureSVD runs none.
    if model == "svd":
        assert trained.query_map is None
    else:
        y = raw[[v not in held_out for v in videos]]
        np.testing.assert_allclose(trained.query_map @ (y.T @ y + np.eye(8)), np.eye(8),
                                   atol=1e-3)


def test_an_als_runs_viewer_query_is_its_query_map_times_the_sum():
    from killrvideo_reco.domain.behaviour import (
        matrix_from_bytes,
        matrix_to_bytes,
        query_vector,
        viewer_query,
    )
    from killrvideo_reco.domain.models import BehaviourRun

    rng = np.random.default_rng(5)
    y = rng.normal(size=(50, 4))
    inverse = np.linalg.inv(y.T @ y + 2.0 * np.eye(4))
    assert np.allclose(matrix_from_bytes(matrix_to_bytes(inverse)), inverse, rtol=1e-6)
    summed = y[:5].sum(axis=0)
    als = BehaviourRun("als", "a", 4, 1.0, query_map=matrix_to_bytes(inverse))
    svd = BehaviourRun("svd", "b", 4, 1.0)
    np.testing.assert_allclose(viewer_query(summed, als), query_vector(inverse @ summed),
                               rtol=1e-5)
    np.testing.assert_array_equal(viewer_query(summed, svd), query_vector(summed))
    assert viewer_query(np.zeros(4), als) is None


def test_in_memory_scoring_uses_the_query_serving_uses():
    history, videos, content, _ = synthetic()
    for model in ("svd", "als"):
        trained = train(history, videos, content,
                        TrainingConfig(factors=FactorConfig(model, dimension=8, iterations=5)))
        expected = trained.viewers[0] if model == "svd" else trained.query_map @ trained.viewers[0]
        np.testing.assert_allclose(trained.query(0), expected)
