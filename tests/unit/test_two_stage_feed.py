"""The two-stage candidate search and ranking on in-memory stores."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

import numpy as np

from killrvideo_reco.domain.behaviour import RankerWeights, index_vectors, query_vector
from killrvideo_reco.domain.models import BehaviourRun, NewVideo
from killrvideo_reco.service.candidates import CandidateLimits, TwoStageFeed
from tests.fakes import FakeBehaviourStore, FakeVideoStore, FakeViewerStore

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


def test_sources_are_merged_excluded_and_ranked_by_the_runs_weights():
    videos, behaviour, run, raw, ids, popularity, weights = world()
    viewers = FakeViewerStore()
    user = uuid.uuid4()
    for v in ids[:20]:
        viewers.watch(user, v)
    feed = TwoStageFeed(behaviour, viewers, CandidateLimits(40, 20, 10, -1.0))
    bq, cq = query_vector(rng.normal(size=4)), rng.normal(size=8)
    cq = cq / np.linalg.norm(cq)

    ranked = asyncio.run(feed.ranked_unseen(user, run, bq, cq, ids[15:45]))

    got = [r.candidate.video_id for r in ranked]
    assert len(got) == len(set(got)) and not set(got) & set(ids[:20])
    scores = [r.score for r in ranked]
    assert scores == sorted(scores, reverse=True)
    first = ranked[0].candidate
    assert np.isclose(ranked[0].score, weights.score(
        np.array([[first.behaviour, first.content, first.popularity]]))[0])
    assert {"behaviour", "content", "popular"} <= set().union(
        *(r.candidate.sources for r in ranked))
    both = [r for r in ranked if len(r.candidate.sources) > 1]
    assert both, "a video found by two sources appears once, with both sources"


def _heavy_watcher():
    videos, behaviour, run, raw, ids, popularity, _ = world()
    viewers = FakeViewerStore()
    user = uuid.uuid4()
    q = rng.normal(size=4)
    nearest = sorted(range(len(ids)), key=lambda i: -float(raw[i] @ q))
    for i in nearest[:35]:  # most of the first 40 behaviour neighbours are watched
        viewers.watch(user, ids[i])
    feed = TwoStageFeed(behaviour, viewers, CandidateLimits(40, 20, 0, -1.0))
    return feed, behaviour, run, user, query_vector(q), {ids[i] for i in nearest[:35]}


def test_an_unsized_search_short_of_fresh_rows_goes_to_the_cap_at_once():
    feed, behaviour, run, user, bq, watched = _heavy_watcher()
    cq = np.ones(8) / np.sqrt(8)

    ranked = asyncio.run(feed.ranked_unseen(user, run, bq, cq, []))

    assert [n for s, n in behaviour.limits if s == "behaviour"] == [40, 1000]
    assert [n for s, n in behaviour.limits if s == "content"] == [20]
    assert not {r.candidate.video_id for r in ranked} & watched


def test_a_heavy_watchers_first_search_is_sized_from_their_history():
    feed, behaviour, run, user, bq, watched = _heavy_watcher()
    cq = np.ones(8) / np.sqrt(8)

    ranked = asyncio.run(feed.ranked_unseen(user, run, bq, cq, [], watched=35))

    # 40 rows + 35 probably seen: one query deep enough, no widening.
    assert [n for s, n in behaviour.limits if s == "behaviour"] == [75]
    assert [n for s, n in behaviour.limits if s == "content"] == [55]
    assert not {r.candidate.video_id for r in ranked} & watched
    assert sum("behaviour" in r.candidate.sources for r in ranked) >= 20
