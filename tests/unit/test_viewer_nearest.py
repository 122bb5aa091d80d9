"""A viewer's kept nearest list: when it still answers their behaviour query, and the
behaviour source answered from it instead of an ANN query."""
from __future__ import annotations

import asyncio
import uuid

import numpy as np
import pytest

from killrvideo_reco.domain.behaviour import index_vectors, query_vector
from killrvideo_reco.domain.models import CandidateSizes, ProfileReferences
from killrvideo_reco.domain.viewer_nearest import NearestRules, ViewerNearest, reusable
from killrvideo_reco.service.neighbours import CandidateFeatures
from killrvideo_reco.service.retrieval import CandidateLimits, CandidateRetrieval
from killrvideo_reco.training.viewer_lists import nearest_videos
from tests.unit.test_retrieval import _heavy_watcher, _twenty_watched, world

RULES = NearestRules(min_cosine=0.98, max_age_s=3600)
IDS = tuple(uuid.uuid4() for _ in range(100))
Q = np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32)


def turned(degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    return np.array([np.cos(a), np.sin(a), 0.0, 0.0], dtype=np.float32)


@pytest.mark.parametrize("case, run_id, query, depth, age_s, answers", [
    ("the same query", "r1", Q, 100, 10, True),
    ("a few views on: cos 0.985", "r1", 2.0 * turned(10), 100, 10, True),
    ("moved further: cos 0.97", "r1", turned(14), 100, 10, False),
    ("another run", "r2", Q, 100, 10, False),
    ("older than the max age", "r1", Q, 100, 3601, False),
    ("a quarter of `wanted` deeper", "r1", Q, 110, 10, True),
    ("more than that deeper", "r1", Q, 111, 10, False),
    ("a zero query", "r1", 0 * Q, 100, 10, False),
])
def test_a_kept_list_answers_only_the_same_run_a_close_query_and_its_depth(
        case, run_id, query, depth, age_s, answers):
    kept = ViewerNearest.of("r1", 100, 1000.0, Q, IDS)
    found = reusable(kept, run_id, query, depth, 40, 1000.0 + age_s, RULES)
    assert (found is not None) == answers, case
    if answers:
        assert found == list(IDS[:depth])


SIZES = CandidateSizes(40, 20, 0)


def _retrieval(behaviour, viewers):
    return CandidateRetrieval(behaviour, viewers, CandidateLimits(SIZES, -1.0, nearest=RULES),
                              features=CandidateFeatures(behaviour, 1000))


def test_a_page_1_keeps_its_ann_answer_and_the_next_one_reuses_it_without_a_query():
    videos, behaviour, run, raw, ids, popularity, weights = world()
    viewers, user = _twenty_watched(ids)
    asyncio.run(viewers.write_profile(user, None, "m", 20, ProfileReferences(), 100))
    feed = _retrieval(behaviour, viewers)
    bq = np.asarray(behaviour.index[ids[30]], dtype=np.float32)  # a query in the space

    first = asyncio.run(feed.ranked_unseen(user, run, bq, None, [], watched=20, version=100))
    kept = asyncio.run(viewers.profile(user)).nearest
    assert [n for s, n in behaviour.limits if s == "behaviour"] == [60]
    assert kept is not None and (kept.run_id, kept.depth) == ("r1", 60)
    assert list(kept.video_ids) == asyncio.run(behaviour.nearest_ids(run, "behaviour", bq, 60))
    behaviour.limits.clear()

    again = asyncio.run(feed.ranked_unseen(user, run, bq, None, [], watched=20, kept=kept,
                                           version=100))
    assert behaviour.limits == [], "no ANN query"
    assert [(r.candidate.video_id, r.score) for r in again] == \
        [(r.candidate.video_id, r.score) for r in first]


def test_a_query_moved_past_the_threshold_queries_again_and_keeps_the_new_answer():
    videos, behaviour, run, raw, ids, popularity, weights = world()
    viewers, user = _twenty_watched(ids)
    asyncio.run(viewers.write_profile(user, None, "m", 20, ProfileReferences(), 100))
    feed = _retrieval(behaviour, viewers)
    far = np.asarray(behaviour.index[ids[31]], dtype=np.float32)
    stale = ViewerNearest.of("r1", 60, 1e12, -far, IDS[:60])  # computed for another query

    asyncio.run(feed.ranked_unseen(user, run, far, None, [], watched=20, kept=stale,
                                   version=200))

    assert [n for s, n in behaviour.limits if s == "behaviour"] == [60]
    kept = asyncio.run(viewers.profile(user)).nearest
    assert kept is not None and kept.video_ids != IDS[:60]
    np.testing.assert_allclose(kept.query, far)


def test_a_shallow_kept_list_seen_through_widens_from_its_own_depth_by_an_ann_query():
    feed, behaviour, run, user, bq, watched = _heavy_watcher()
    feed = _retrieval(behaviour, feed.viewers)
    # The 40 nearest, as a page 1 before most of them were watched kept them.
    nearest = asyncio.run(behaviour.nearest_ids(run, "behaviour", bq, 40))
    kept = ViewerNearest.of(run.run_id, 40, 1e12, np.asarray(bq, dtype=np.float32),
                         tuple(nearest))
    behaviour.limits.clear()

    ranked = asyncio.run(feed.ranked_unseen(user, run, bq, None, [], watched=5, kept=kept))

    # Asked 45 (40 + 5 seen): the list of 40 serves; 5 fresh of 40 is short, so an ANN
    # query twice the list's depth follows.
    assert [n for s, n in behaviour.limits if s == "behaviour"] == [80]
    assert not {r.candidate.video_id for r in ranked} & watched
    assert sum("behaviour" in r.candidate.sources for r in ranked) == 40


def test_training_lists_each_viewer_the_index_order_to_their_depth():
    rng = np.random.default_rng(9)
    raw = rng.normal(size=(60, 4))
    index = index_vectors(raw, float(np.linalg.norm(raw, axis=1).max()))
    index[7] = 0.0  # a video without a vector is never listed
    ids = [uuid.uuid4() for _ in range(60)]
    queries = np.stack([query_vector(rng.normal(size=4)) for _ in range(3)])

    lists = nearest_videos(ids, index, queries, [5, 20, 60])

    assert [len(found) for found in lists] == [5, 20, 59]
    for found, q in zip(lists, queries):
        cosines = index @ q  # the ANN index's order: unit rows, a unit query
        expected = [ids[i] for i in np.argsort(-cosines, kind="stable") if i != 7]
        assert list(found) == expected[:len(found)]
        assert ids[7] not in found


def test_training_keeps_heavy_watchers_lists_as_deep_as_their_first_widening():
    from killrvideo_reco.jobs.viewer_lists import kept_depth
    assert kept_depth(100, 20, 1000) == 120, "a light watcher: the source's own depth"
    assert kept_depth(100, 99, 1000) == 199
    assert kept_depth(100, 100, 1000) == 400, "allowance spent: the first widening's depth"
    assert kept_depth(100, 5000, 300) == 300, "never past the cap"
