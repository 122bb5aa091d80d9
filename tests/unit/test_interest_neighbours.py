"""Interest candidates from content neighbour lists (service/neighbours.py): read by key,
computed once with an ANN query, recomputed when stale or of another model."""
from __future__ import annotations

import asyncio
import time
import uuid

import numpy as np

from killrvideo_reco.domain.behaviour import query_vector
from killrvideo_reco.domain.interests import Interest
from killrvideo_reco.domain.models import CandidateSizes
from killrvideo_reco.service.neighbours import (
    CandidateFeatures,
    ContentNeighbours,
    InterestSource,
)
from killrvideo_reco.service.retrieval import CandidateLimits, CandidateRetrieval
from tests.fakes import FakeNeighbourStore, FakeViewerStore
from tests.unit.test_retrieval import rng, world


def interests_of(videos, medoids):
    out = []
    for n, video_id in enumerate(medoids):
        x = videos.videos[video_id].content_features
        out.append(Interest(video_id, (x / np.linalg.norm(x)).astype(np.float32),
                            2.0 - n, time.time(), 3))
    return tuple(out)


def setup(max_age_s=3600.0):
    videos, behaviour, run, raw, ids, popularity, _ = world()
    store = FakeNeighbourStore()
    neighbours = ContentNeighbours(videos, store, 30, max_age_s)
    source = InterestSource(neighbours, CandidateFeatures(behaviour, 1000))
    feed = CandidateRetrieval(behaviour, FakeViewerStore(),
                        CandidateLimits(CandidateSizes(40, 20, 0), -1.0), source)
    return videos, behaviour, run, ids, store, feed


def test_interests_are_served_from_their_medoids_lists_without_ann_queries():
    videos, behaviour, run, ids, store, feed = setup()
    user, medoids = uuid.uuid4(), ids[:3]
    interests = interests_of(videos, medoids)
    bq, cq = query_vector(rng.normal(size=4)), interests[0].medoid

    ranked = asyncio.run(feed.ranked_unseen(user, run, bq, cq, [], interests, "m"))

    assert {(v, "content") for v in medoids} == set(store.lists)  # computed, then stored
    assert not [s for s, _ in behaviour.limits if s == "interest"]  # no per-request ANN
    from_lists = {r.candidate.video_id for r in ranked if "interest" in r.candidate.sources}
    listed = {v for v in medoids for v in store.lists[(v, "content")].video_ids}
    assert from_lists and from_lists <= listed
    first = store.lists[(medoids[0], "content")]
    # A list is its medoid's nearest videos, best first, itself left out.
    x = videos.videos[medoids[0]].content_features
    cos = {v: float(videos.videos[v].content_features @ x / np.linalg.norm(
        videos.videos[v].content_features) / np.linalg.norm(x)) for v in ids if v != medoids[0]}
    assert list(first.video_ids) == sorted(cos, key=lambda v: -cos[v])[:30]
    # Features equal the ANN path's: the content cosine to the viewer's query, within the
    # feature cache's float16 rounding.
    some = next(r.candidate for r in ranked if "interest" in r.candidate.sources)
    e = videos.videos[some.video_id].content_features
    assert abs(some.content - float(e @ cq / np.linalg.norm(e))) < 1e-3


def test_stored_lists_are_reused_and_stale_or_other_model_ones_recomputed():
    videos, behaviour, run, ids, store, feed = setup(max_age_s=3600.0)
    interests = interests_of(videos, ids[:2])
    bq, cq = query_vector(rng.normal(size=4)), interests[0].medoid
    asyncio.run(feed.ranked_unseen(uuid.uuid4(), run, bq, cq, [], interests, "m"))
    stamps = {k: v.computed_at for k, v in store.lists.items()}

    asyncio.run(feed.ranked_unseen(uuid.uuid4(), run, bq, cq, [], interests, "m"))
    assert {k: v.computed_at for k, v in store.lists.items()} == stamps  # read, not redone

    key = (ids[0], "content")
    old = store.lists[key]
    store.lists[key] = type(old)(old.version, old.computed_at - 7200, old.video_ids,
                                 old.similarities)
    asyncio.run(feed.ranked_unseen(uuid.uuid4(), run, bq, cq, [], interests, "m"))
    assert store.lists[key].computed_at > old.computed_at - 7200  # too old: recomputed

    asyncio.run(feed.ranked_unseen(uuid.uuid4(), run, bq, cq, [], interests, "m2"))
    assert {v.version for v in store.lists.values()} == {"m2"}  # another model: recomputed


def test_watched_videos_never_come_back_through_a_list():
    videos, behaviour, run, ids, store, feed = setup()
    viewers = feed.viewers
    user = uuid.uuid4()
    interests = interests_of(videos, ids[:2])
    bq, cq = query_vector(rng.normal(size=4)), interests[0].medoid
    asyncio.run(feed.ranked_unseen(uuid.uuid4(), run, bq, cq, [], interests, "m"))
    watched = set(store.lists[(ids[0], "content")].video_ids[:10])
    for v in watched:
        viewers.watch(user, v)

    ranked = asyncio.run(feed.ranked_unseen(user, run, bq, cq, [], interests, "m",
                                            watched=len(watched)))

    assert not {r.candidate.video_id for r in ranked} & watched


def test_one_interest_is_served_from_its_list_so_the_behaviour_query_is_the_only_ann():
    videos, behaviour, run, ids, store, feed = setup()
    interests = interests_of(videos, ids[:1])
    bq, cq = query_vector(rng.normal(size=4)), interests[0].medoid
    asyncio.run(feed.ranked_unseen(uuid.uuid4(), run, bq, cq, [], interests, "m"))  # lists made
    behaviour.limits.clear()

    ranked = asyncio.run(feed.ranked_unseen(uuid.uuid4(), run, bq, cq, [], interests, "m"))

    assert [space for space, _ in behaviour.limits] == ["behaviour"], "no content ANN query"
    assert any("interest" in r.candidate.sources for r in ranked)
