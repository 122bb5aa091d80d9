"""The shaped For You feed on in-memory stores: a viewer with two tastes sees both on
page 1, each item explained by its own interest, and pages stay slices of one order."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import numpy as np

from killrvideo_reco.domain.behaviour import index_vectors
from killrvideo_reco.domain.models import BehaviourRun, NewVideo
from killrvideo_reco.domain.profile_refs import references_of
from killrvideo_reco.domain.ranking import RankerWeights
from killrvideo_reco.domain.taste_profile import Interaction, ProfileParams, build_state
from killrvideo_reco.service.feed import FeedService
from killrvideo_reco.settings import Settings
from tests.fakes import FakeBehaviourStore, FakeVideoStore, FakeViewerStore

DIM, MODEL = 8, "test-model"
COOKING, GARDENING = 0, 1
rng = np.random.default_rng(11)
OLD = datetime.now(timezone.utc) - timedelta(days=90)


class Live:
    def __init__(self, run):
        self.run = run

    async def get(self):
        return self.run


def world():
    """Cooking and gardening videos (plus noise). In the behaviour space gardening is
    what the community co-watches with this viewer, so ranking alone favours it."""
    videos = FakeVideoStore()
    videos.model = MODEL
    topic_of, raw, ids = {}, [], []
    for n in range(240):
        topic = n % 3  # 0 cooking, 1 gardening, 2 anything else
        content = np.zeros(DIM)
        content[topic] = 1.0
        content += rng.normal(scale=0.25, size=DIM)
        video = NewVideo(uuid.uuid4(), uuid.UUID(int=n % 12 + 1), f"{topic}-{n}", "", (), None,
                         OLD, None, 600, content.astype(np.float32), MODEL)
        asyncio.run(videos.add(video))
        behaviour = rng.normal(scale=0.3, size=4)
        behaviour[0] += {COOKING: 0.6, GARDENING: 1.5, 2: -0.5}[topic]
        raw.append(behaviour)
        ids.append(video.video_id)
        topic_of[video.video_id] = topic
    raw = np.array(raw)
    bound = float(np.linalg.norm(raw, axis=1).max())
    behaviour = FakeBehaviourStore(videos, dict(zip(ids, index_vectors(raw, bound))),
                                   {v: 0.5 for v in ids})
    run = BehaviourRun("r1", "a", 4, bound,
                       RankerWeights({"behaviour": 3.0, "content": 1.0, "popularity": 0.2}, "t"))
    return videos, behaviour, run, ids, topic_of


def two_topic_viewer(videos, viewers, ids, topic_of, params):
    user = uuid.uuid4()
    liked = ([v for v in ids if topic_of[v] == COOKING][:6]
             + [v for v in ids if topic_of[v] == GARDENING][:8])
    now = datetime.now(timezone.utc).timestamp()
    interactions = []
    for n, video_id in enumerate(liked):
        video = videos.videos[video_id]
        interactions.append(Interaction(video_id, video.content_features, video.uploader_id,
                                        now - n * 3600, "watch", 600.0, 600.0, video.title))
        viewers.watch(user, video_id)
    state = build_state(interactions, params, DIM)
    behaviour_vector = np.array([1.0, 0.0, 0.0, 0.0])
    asyncio.run(viewers.write_profile(
        user, state.preference_vector(params), MODEL, state.positive_count(),
        references_of(state), 1, ("a", "r1", behaviour_vector)))
    return user, state


def feed_for(videos, viewers, behaviour, run, **overrides):
    settings = Settings(vector_dimension=DIM, embedding_provider="hashing",
                        feed_cache_ttl_s=0.0, feed_behaviour_candidates=40,
                        feed_content_candidates=20, feed_popular_candidates=0, **overrides)
    return FeedService(videos, viewers, settings, behaviour, Live(run))


def test_a_viewer_with_two_tastes_gets_both_on_page_one():
    videos, behaviour, run, ids, topic_of = world()
    viewers = FakeViewerStore()
    user, state = two_topic_viewer(videos, viewers, ids, topic_of, ProfileParams())
    assert len(state.interests) >= 2

    page = asyncio.run(feed_for(videos, viewers, behaviour, run).for_you(user, 1, 10))

    topics = [topic_of[item.summary.video_id] for item in page.items]
    assert page.source == "personalized" and len(topics) == 10
    assert COOKING in topics and GARDENING in topics
    cooking = next(i for i in page.items if topic_of[i.summary.video_id] == COOKING)
    assert cooking.based_on and all(topic_of[b.video_id] == COOKING for b in cooking.based_on)


def test_without_interests_and_shaping_the_same_viewer_sees_one_taste():
    # The dilution the interests fix: one averaged vector and ranking alone.
    videos, behaviour, run, ids, topic_of = world()
    viewers = FakeViewerStore()
    user, _ = two_topic_viewer(videos, viewers, ids, topic_of,
                               ProfileParams(interest_count=1))
    feed = feed_for(videos, viewers, behaviour, run, feed_diversity_lambda=1.0,
                    feed_creator_cap=0, feed_freshness_boost=1.0)

    page = asyncio.run(feed.for_you(user, 1, 10))

    assert {topic_of[item.summary.video_id] for item in page.items} == {GARDENING}


def test_shaped_pages_are_slices_of_one_request():
    videos, behaviour, run, ids, topic_of = world()
    viewers = FakeViewerStore()
    user, _ = two_topic_viewer(videos, viewers, ids, topic_of, ProfileParams())
    feed = feed_for(videos, viewers, behaviour, run, feed_creator_cap=2)

    pages = [asyncio.run(feed.for_you(user, n, 10)) for n in (1, 2, 3)]
    whole = asyncio.run(feed.for_you(user, 1, 30))

    paged = [i.summary.video_id for p in pages for i in p.items]
    assert paged == [i.summary.video_id for i in whole.items]
    assert len(set(paged)) == 30
    for page in pages:  # the creator cap holds on every page of the default size
        creators = [videos.videos[i.summary.video_id].uploader_id for i in page.items]
        assert max(creators.count(c) for c in creators) <= 2


def test_later_pages_come_from_the_list_cache_until_the_profile_changes():
    videos, behaviour, run, ids, topic_of = world()
    viewers = FakeViewerStore()
    user, state = two_topic_viewer(videos, viewers, ids, topic_of, ProfileParams())
    cached, uncached = feed_for(videos, viewers, behaviour, run), \
        feed_for(videos, viewers, behaviour, run, feed_list_cache_size=0)

    def ids_of(page):
        return [i.summary.video_id for i in page.items]

    resolved = []
    resolve = cached.facts.resolve_profile

    async def counted(*args):
        resolved.append(args)
        return await resolve(*args)

    cached.facts.resolve_profile = counted
    first = asyncio.run(cached.for_you(user, 1, 10))
    searches = len(behaviour.limits)
    later = [asyncio.run(cached.for_you(user, n, 10)) for n in (2, 3, 1)]
    assert len(behaviour.limits) == searches, "pages 2, 3 and a reload: no new search"
    assert len(resolved) == 1, "nor a new resolution of the profile's references"
    paged = ids_of(first) + ids_of(later[0]) + ids_of(later[1])
    whole = asyncio.run(uncached.for_you(user, 1, 30))
    assert paged == ids_of(whole), "the same pages with the cache off"
    assert [i.based_on for p in (first, *later[:2]) for i in p.items] == \
        [i.based_on for i in whole.items], "explained alike"
    assert ids_of(later[2]) == ids_of(first)
    # A view writes a new profile version: the next request searches again and drops it.
    watched = ids_of(first)[0]
    viewers.watch(user, watched)
    asyncio.run(viewers.write_profile(
        user, state.preference_vector(ProfileParams()), MODEL, state.positive_count(),
        references_of(state), 2, ("a", "r1", np.array([1.0, 0.0, 0.0, 0.0]))))
    after = asyncio.run(cached.for_you(user, 1, 10))
    assert len(behaviour.limits) > searches and watched not in ids_of(after)


def test_two_stage_items_carry_the_features_and_score_that_ranked_them():
    """What the operator console shows per item: the run's weights over its features."""
    videos, behaviour, run, ids, topic_of = world()
    viewers = FakeViewerStore()
    user, _ = two_topic_viewer(videos, viewers, ids, topic_of, ProfileParams())

    page = asyncio.run(feed_for(videos, viewers, behaviour, run).for_you(user, 1, 10))

    for item in page.items:
        r = item.ranking
        assert r is not None and r.sources
        expected = run.ranker.score(np.array([[r.behaviour, r.content, r.popularity, r.just_watched]]))[0]
        assert np.isclose(r.score, expected)
        assert item.similarity == max(r.behaviour, r.content)
