"""The two-stage candidate search and ranking on in-memory stores."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

import numpy as np
import pytest

from killrvideo_reco.domain.behaviour import behaviour_space, index_vectors, query_vector
from killrvideo_reco.domain.models import BehaviourRun, CandidateSizes, NeighbourList, NewVideo
from killrvideo_reco.domain.ranking import RankerWeights
from killrvideo_reco.service.just_watched import JustWatchedSource
from killrvideo_reco.service.neighbour_cache import NeighbourListCache
from killrvideo_reco.service.neighbours import CandidateFeatures
from killrvideo_reco.service.retrieval import CandidateLimits, CandidateRetrieval
from tests.fakes import FakeBehaviourStore, FakeVideoStore, FakeViewerStore
from tests.fakes.neighbours import FakeNeighbourStore

rng = np.random.default_rng(4)


def world(n=300):
    videos = FakeVideoStore()
    raw = rng.normal(size=(n, 4))
    bound = float(np.linalg.norm(raw, axis=1).max())
    index = index_vectors(raw, bound)
    ids = []
    for i in range(n):
        video = NewVideo(uuid.uuid4(), None, f"v{i}", "", (), None, datetime.now(timezone.utc),
                         None, 600, rng.normal(size=8).astype(np.float32), "m")
        asyncio.run(videos.add(video))
        ids.append(video.video_id)
    popularity = {v: float(rng.uniform()) for v in ids}
    behaviour = FakeBehaviourStore(videos, dict(zip(ids, index)), popularity)
    weights = RankerWeights({"behaviour": 3.0, "content": 1.0, "popularity": 0.5}, "test")
    run = BehaviourRun("r1", "a", 4, bound, weights)
    return videos, behaviour, run, raw, ids, popularity, weights


def count_feature_reads(behaviour) -> list[int]:
    """The sizes of the store's feature reads (popular_pool) from now on."""
    read: list[int] = []
    pool = behaviour.popular_pool

    async def counted(run_, video_ids):
        read.append(len(video_ids))
        return await pool(run_, video_ids)

    behaviour.popular_pool = counted
    return read


def _twenty_watched(ids):
    """A viewer who watched the first 20 videos, and their store."""
    viewers, user = FakeViewerStore(), uuid.uuid4()
    for v in ids[:20]:
        viewers.watch(user, v)
    return viewers, user


def _queries():
    """A behaviour query and a unit content query."""
    bq, cq = query_vector(rng.normal(size=4)), rng.normal(size=8)
    return bq, cq / np.linalg.norm(cq)


def test_sources_are_merged_excluded_and_ranked_by_the_runs_weights():
    videos, behaviour, run, raw, ids, popularity, weights = world()
    viewers, user = _twenty_watched(ids)
    feed = CandidateRetrieval(behaviour, viewers, CandidateLimits(CandidateSizes(40, 20, 10), -1.0))
    bq, cq = _queries()

    ranked = asyncio.run(feed.ranked_unseen(user, run, bq, cq, ids[15:45]))

    got = [r.candidate.video_id for r in ranked]
    assert len(got) == len(set(got)) and not set(got) & set(ids[:20])
    scores = [r.score for r in ranked]
    assert scores == sorted(scores, reverse=True)
    first = ranked[0].candidate
    assert np.isclose(ranked[0].score, weights.score(
        np.array([first.features()]))[0])
    assert {"behaviour", "content", "popular"} <= set().union(
        *(r.candidate.sources for r in ranked))
    both = [r for r in ranked if len(r.candidate.sources) > 1]
    assert both, "a video found by two sources appears once, with both sources"


def test_with_the_feature_cache_the_ann_rows_are_ids_and_rank_as_the_full_rows_do():
    videos, behaviour, run, raw, ids, popularity, weights = world()
    viewers, user = _twenty_watched(ids)
    limits = CandidateLimits(CandidateSizes(40, 20, 10), -1.0)
    full = CandidateRetrieval(behaviour, viewers, limits)
    features = CandidateFeatures(behaviour, 1000)
    by_ids = CandidateRetrieval(behaviour, viewers, limits, features=features)
    bq, cq = _queries()
    read = count_feature_reads(behaviour)
    expected = asyncio.run(full.ranked_unseen(user, run, bq, cq, ids[15:45]))
    got = asyncio.run(by_ids.ranked_unseen(user, run, bq, cq, ids[15:45]))

    assert [r.candidate.video_id for r in got] == [r.candidate.video_id for r in expected]
    # The cache keeps content vectors in float16: the scores move by its rounding alone.
    np.testing.assert_allclose([r.score for r in got], [r.score for r in expected], atol=1e-3)
    assert [r.candidate.sources for r in got] == [r.candidate.sources for r in expected]
    first_reads = len(read)
    asyncio.run(by_ids.ranked_unseen(user, run, bq, cq, ids[15:45]))
    assert len(read) == first_reads, "the second request finds every feature in the caches"


def _heavy_watcher():
    videos, behaviour, run, raw, ids, popularity, _ = world()
    viewers = FakeViewerStore()
    user = uuid.uuid4()
    q = rng.normal(size=4)
    nearest = sorted(range(len(ids)), key=lambda i: -float(raw[i] @ q))
    for i in nearest[:35]:  # most of the first 40 behaviour neighbours are watched
        viewers.watch(user, ids[i])
    feed = CandidateRetrieval(behaviour, viewers, CandidateLimits(CandidateSizes(40, 20, 0), -1.0))
    return feed, behaviour, run, user, query_vector(q), {ids[i] for i in nearest[:35]}


def test_an_unsized_search_short_of_fresh_rows_doubles_its_depth():
    feed, behaviour, run, user, bq, watched = _heavy_watcher()
    cq = np.ones(8) / np.sqrt(8)

    ranked = asyncio.run(feed.ranked_unseen(user, run, bq, cq, []))

    # 5 fresh of 40 is under a quarter: twice as deep, where 45 of 80 are fresh.
    assert [n for s, n in behaviour.limits if s == "behaviour"] == [40, 80]
    assert [n for s, n in behaviour.limits if s == "content"] == [20]
    assert not {r.candidate.video_id for r in ranked} & watched


def test_a_heavy_watchers_first_search_is_sized_from_their_history():
    feed, behaviour, run, user, bq, watched = _heavy_watcher()
    cq = np.ones(8) / np.sqrt(8)

    ranked = asyncio.run(feed.ranked_unseen(user, run, bq, cq, [], watched=35))

    # 40 rows + 35 probably seen: one query deep enough, no widening.
    assert [n for s, n in behaviour.limits if s == "behaviour"] == [75]
    assert [n for s, n in behaviour.limits if s == "content"] == [40]
    assert not {r.candidate.video_id for r in ranked} & watched
    assert sum("behaviour" in r.candidate.sources for r in ranked) >= 20


def test_a_sources_depth_and_its_ranked_rows_do_not_grow_with_the_history():
    feed, behaviour, run, user, bq, watched = _heavy_watcher()
    cq = np.ones(8) / np.sqrt(8)

    ranked = asyncio.run(feed.ranked_unseen(user, run, bq, cq, [], watched=5000))

    # At most twice the rows a source should bring, however long the history.
    assert [n for s, n in behaviour.limits if s == "behaviour"] == [80]
    assert [n for s, n in behaviour.limits if s == "content"] == [40]
    # Each source ranks its first 40 (behaviour) or 20 (content) unseen rows only.
    assert sum("behaviour" in r.candidate.sources for r in ranked) == 40
    assert sum("content" in r.candidate.sources for r in ranked) == 20
    assert not {r.candidate.video_id for r in ranked} & watched


def test_just_watched_lists_bring_unseen_co_watched_videos_and_the_feature():
    videos, behaviour, run, raw, ids, popularity, _ = world(120)
    weights = RankerWeights({"behaviour": 0.0, "content": 0.0, "popularity": 0.0,
                             "just_watched": 1.0}, "test")
    run = BehaviourRun("r1", "a", 4, run.max_norm, weights)
    viewers, store = FakeViewerStore(), FakeNeighbourStore()
    user, recent = uuid.uuid4(), ids[0]
    viewers.watch(user, recent)
    viewers.watch(user, ids[101])  # the list's best: seen, so skipped
    listed = (ids[101], *ids[102:110])
    similarities = np.linspace(0.9, 0.1, len(listed)).astype(np.float32)
    asyncio.run(store.write_neighbour_lists(behaviour_space("a"), [
        (recent, NeighbourList("r1", 0.0, listed, similarities)),
        (ids[1], NeighbourList("another run", 0.0, ids[110:115], similarities[:5]))]))
    source = JustWatchedSource(NeighbourListCache(store, None), CandidateFeatures(behaviour, 100),
                               videos=3, rows=4)
    limits = CandidateLimits(CandidateSizes(0, 0, 0, just_watched_rows=4), -1.0)
    feed = CandidateRetrieval(behaviour, viewers, limits, just_watched=source)

    ranked = asyncio.run(feed.ranked_unseen(user, run, None, None, [], watched=2,
                                            recent=[recent, ids[1]]))

    assert [r.candidate.video_id for r in ranked] == list(ids[102:106]), \
        "the first 4 unseen of the live run's list, best first; the stale list is not read"
    assert [r.candidate.just_watched for r in ranked] == pytest.approx(similarities[1:5])
    assert {r.candidate.cited for r in ranked} == {recent}
    assert all(r.candidate.sources == {"just watched"} for r in ranked)
