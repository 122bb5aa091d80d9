"""Neighbour lists at training: exact top-k by the index's score (behaviour) or by cosine
(content, the interests' medoids), never the video itself, nothing for videos without a
vector; stored content lists that still answer are not recomputed."""
from __future__ import annotations

import asyncio
import time
import uuid

import numpy as np

from killrvideo_reco.domain.behaviour import index_vectors, max_norm
from killrvideo_reco.domain.models import CandidateSizes, NeighbourList
from killrvideo_reco.jobs.content_lists import keep_content_lists
from killrvideo_reco.training.neighbours import behaviour_neighbours, content_neighbours
from killrvideo_reco.training.ranker import just_watched, latest_first


def test_lists_are_the_exact_top_k_of_each_videos_direction():
    rng = np.random.default_rng(7)
    raw = rng.normal(size=(300, 8))
    raw[17] = 0.0  # an untrained video with no vector
    index = index_vectors(raw, max_norm(raw))
    ids = [uuid.uuid4() for _ in range(300)]
    lists = dict(behaviour_neighbours(ids, index, 10, "run-1"))
    assert len(lists) == 299 and ids[17] not in lists
    for row in (0, 5, 299):
        scores = raw @ raw[row]
        scores[[row, 17]] = -np.inf
        expected = [ids[i] for i in np.argsort(-scores)[:10]]
        found = lists[ids[row]]
        assert list(found.video_ids) == expected
        assert found.version == "run-1"
        assert np.all(np.diff(found.similarities) <= 1e-6)
        assert ids[17] not in found.video_ids and ids[row] not in found.video_ids


def test_no_lists_when_size_is_zero_or_one_video():
    raw = np.ones((1, 4))
    index = index_vectors(raw, max_norm(raw))
    assert behaviour_neighbours([uuid.uuid4()], index, 5, "r") == []
    assert behaviour_neighbours([uuid.uuid4()] * 3, index_vectors(np.ones((3, 4)), 2.0), 0,
                                "r") == []


def test_the_ranker_fit_sees_the_just_watched_lists_as_serving_reads_them():
    rng = np.random.default_rng(3)
    raw = rng.normal(size=(200, 6))
    raw[9] = 0.0
    bound = max_norm(raw)
    index = index_vectors(raw, bound)
    ids = [uuid.uuid4() for _ in range(200)]
    sizes = CandidateSizes(just_watched_videos=2, just_watched_rows=5, neighbours=15)
    served = dict(behaviour_neighbours(ids, index, 15, "r"))
    feature, lists = just_watched(np.array([4, 7, 11]), raw, bound, sizes)
    assert len(lists) == 2, "only the two latest positives lend their lists"
    expected = np.zeros(200)
    for recent in (4, 7):
        found = served[ids[recent]]
        for video, similarity in zip(found.video_ids, found.similarities):
            row = ids.index(video)
            expected[row] = max(expected[row], similarity) if expected[row] else similarity
    np.testing.assert_allclose(feature, expected, atol=1e-5)
    assert feature[9] == 0.0, "no vector: in no list"


def test_latest_first_takes_distinct_items_newest_first():
    items = np.array([5, 3, 5, 8, 2])
    times = np.array([1.0, 4.0, 6.0, 2.0, 3.0])
    assert latest_first(items, times, 3).tolist() == [5, 3, 2]


def test_only_videos_fitted_from_history_get_and_appear_in_lists():
    rng = np.random.default_rng(5)
    raw = rng.normal(size=(50, 4))
    index = index_vectors(raw, max_norm(raw))
    ids = [uuid.uuid4() for _ in range(50)]
    trained = np.ones(50, dtype=bool)
    trained[[3, 8]] = False  # placed by the content map
    lists = dict(behaviour_neighbours(ids, index, 60, "r", trained))
    assert set(lists) == set(ids) - {ids[3], ids[8]}
    assert all(ids[3] not in found.video_ids and ids[8] not in found.video_ids
               for found in lists.values())


def test_content_lists_are_the_exact_cosine_top_k_of_the_videos_asked_for():
    rng = np.random.default_rng(3)
    content = rng.normal(size=(200, 6)) * rng.uniform(0.5, 3.0, size=(200, 1))
    content[9] = 0.0  # no embedding: never listed
    ids = [uuid.uuid4() for _ in range(200)]
    lists = dict(content_neighbours(ids, content, [ids[0], ids[42], ids[9], ids[0]], 7, "m1"))
    assert set(lists) == {ids[0], ids[42]}
    units = content / np.maximum(np.linalg.norm(content, axis=1, keepdims=True), 1e-12)
    for row in (0, 42):
        cosines = units @ units[row]
        cosines[[row, 9]] = -np.inf
        order = np.argsort(-cosines)[:7]
        found = lists[ids[row]]
        assert list(found.video_ids) == [ids[i] for i in order]
        np.testing.assert_allclose(found.similarities, cosines[order], atol=1e-5)
        assert found.version == "m1"


def test_only_the_medoids_whose_stored_list_would_not_answer_are_computed():
    from tests.fakes.neighbours import FakeNeighbourStore
    rng = np.random.default_rng(5)
    content = rng.normal(size=(50, 4))
    ids = [uuid.uuid4() for _ in range(50)]
    store = FakeNeighbourStore()
    now = time.time()
    fresh = NeighbourList("m2", now, (ids[7],), np.ones(1, dtype=np.float32))
    store.lists[(ids[0], "content")] = fresh
    store.lists[(ids[1], "content")] = NeighbourList("m1", now, (), np.zeros(0))  # old model
    store.lists[(ids[2], "content")] = NeighbourList("m2", now - 7200, (), np.zeros(0))  # old
    written = asyncio.run(keep_content_lists(store, {ids[0], ids[1], ids[2], ids[3]}, ids,
                                             content, "m2", 5, 3600))
    assert written == 3
    assert store.lists[(ids[0], "content")] is fresh, "a usable list is left as it is"
    for v in ids[1:4]:
        listed = store.lists[(v, "content")]
        assert listed.version == "m2" and len(listed.video_ids) == 5 and v not in listed.video_ids
