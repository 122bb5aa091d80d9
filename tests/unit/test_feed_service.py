"""FeedService against in-memory stores, before the first training run: the pipeline over
the content space (widening, exclusion, paging), and cold start."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import numpy as np

from killrvideo_reco.domain.models import NewVideo, ProfileReferences
from killrvideo_reco.service.feed import FeedService
from killrvideo_reco.settings import Settings
from tests.fakes import FakeBehaviourStore, FakeVideoStore, FakeViewerStore

MODEL = "test-model"
DIM = 8


def settings(**overrides) -> Settings:
    return Settings(vector_dimension=DIM, embedding_provider="hashing", feed_cache_ttl_s=0.0,
                    **overrides)


def catalogue(count: int, seed: int = 1):
    """Videos whose cosine to axis 0 falls steadily with their index."""
    rng = np.random.default_rng(seed)
    videos = FakeVideoStore()
    videos.model = MODEL
    now = datetime.now(timezone.utc)
    ids = []
    for n in range(count):
        angle = n / count * 1.5
        vector = np.zeros(DIM, dtype=np.float32)
        vector[0], vector[1] = np.cos(angle), np.sin(angle)
        vector[2:] = rng.normal(scale=1e-3, size=DIM - 2)
        video = NewVideo(uuid.uuid4(), uuid.uuid4(), f"video {n}", "", (), None,
                         now - timedelta(minutes=n), None, 600, vector, MODEL)
        asyncio.run(videos.add(video))
        ids.append(video.video_id)
    return videos, ids


def profiled_viewer(viewers: FakeViewerStore, model: str = MODEL) -> uuid.UUID:
    user = uuid.uuid4()
    axis = np.eye(DIM, dtype=np.float32)[0]
    asyncio.run(viewers.write_profile(user, axis, model, 5, ProfileReferences(), 1))
    return user


def feed_service(videos: FakeVideoStore, viewers: FakeViewerStore,
                 config: Settings | None = None) -> tuple[FeedService, FakeBehaviourStore]:
    """The feed before any training run: no video has a behaviour vector."""
    behaviour = FakeBehaviourStore(videos)
    return FeedService(videos, viewers, config or settings(), behaviour), behaviour


def test_untrained_feed_ranks_by_content_and_widens_a_source_seen_through():
    videos, ids = catalogue(400)
    viewers = FakeViewerStore()
    user = profiled_viewer(viewers)
    for video_id in ids[:120]:  # the 120 nearest are already watched
        viewers.watch(user, video_id)
    feed, behaviour = feed_service(videos, viewers)

    page = asyncio.run(feed.for_you(user, 1, 10))

    assert page.source == "personalized"
    assert page.positives == 5  # the profile's positive videos: what "new viewer" uses
    served = [i.summary.video_id for i in page.items]
    assert set(served) <= set(ids[120:135]), "the nearest unseen, as shaping orders them"
    assert all(i.ranking is not None and i.ranking.behaviour == 0.0 for i in page.items)
    # One content query of the behaviour and content rows (100 + 50, plus the watched
    # allowance), twice as deep once nearly all its rows were watched; no behaviour query.
    assert behaviour.limits == [("content", 155), ("content", 310)]


def test_pages_never_repeat_and_add_up_to_one_long_page():
    videos, ids = catalogue(300)
    viewers = FakeViewerStore()
    user = profiled_viewer(viewers)
    for video_id in ids[:40:3]:
        viewers.watch(user, video_id)
    feed, _ = feed_service(videos, viewers)

    pages = [asyncio.run(feed.for_you(user, n, 10)) for n in (1, 2, 3)]
    long_page = asyncio.run(feed.for_you(user, 1, 30))

    paged = [i.summary.video_id for p in pages for i in p.items]
    assert len(paged) == len(set(paged)) == 30
    assert paged == [i.summary.video_id for i in long_page.items]
    assert not set(paged) & set(ids[:40:3])
    totals = [p.total for p in pages]
    assert len(set(totals)) == 1, "every page is cut from one ranked list"


def test_the_next_pages_and_a_reload_find_their_list_by_the_profiles_stamp():
    videos, ids = catalogue(200)
    viewers = FakeViewerStore()
    user = profiled_viewer(viewers)
    feed, behaviour = feed_service(videos, viewers)
    first = asyncio.run(feed.for_you(user, 1, 10))
    queries = len(behaviour.limits)

    async def no_vectors(_user):
        raise AssertionError("page 2 of a cached list reads the stamp alone")
    full_read, viewers.profile = viewers.profile, no_vectors
    second = asyncio.run(feed.for_you(user, 2, 10))
    assert len(behaviour.limits) == queries and second.total == first.total
    assert second.positives == 5
    assert not {i.summary.video_id for i in first.items} & {i.summary.video_id for i in second.items}
    reload = asyncio.run(feed.for_you(user, 1, 10))
    assert [i.summary.video_id for i in reload.items] == [i.summary.video_id for i in first.items]

    # A viewer this replica holds no list for reads the whole read model at once.
    other = profiled_viewer(viewers)
    viewers.profile = full_read

    async def no_stamp(_user):
        raise AssertionError("no list here: the stamp would be a wasted read")
    stamp_read, viewers.profile_stamp = viewers.profile_stamp, no_stamp
    assert asyncio.run(feed.for_you(other, 2, 10)).source == "personalized"
    viewers.profile_stamp = stamp_read

    # A view writes a newer read model: page 2 is cut from a list ranked for it.
    viewers.watch(user, second.items[0].summary.video_id)
    axis = np.eye(DIM, dtype=np.float32)[0]
    asyncio.run(viewers.write_profile(user, axis, MODEL, 6, ProfileReferences(), 2))
    after = asyncio.run(feed.for_you(user, 2, 10))
    assert len(behaviour.limits) > queries and after.positives == 6
    assert second.items[0].summary.video_id not in {i.summary.video_id for i in after.items}


def test_viewer_without_profile_gets_trending_then_latest_minus_what_they_saw():
    videos, ids = catalogue(30)
    viewers = FakeViewerStore()
    today = datetime.now(timezone.utc).date()
    for n, video_id in enumerate(ids[20:25]):  # ids[20] most viewed
        for _ in range(10 - n):
            asyncio.run(viewers.count_view(video_id, today, True))  # distinct viewers
    newcomer = uuid.uuid4()
    viewers.watch(newcomer, ids[20])
    feed, _ = feed_service(videos, viewers)

    page = asyncio.run(feed.for_you(newcomer, 1, 6))

    served = [i.summary.video_id for i in page.items]
    assert page.source == "trending"
    assert page.positives == 0  # no profile
    assert served[:4] == ids[21:25], "trending first, most viewed first, watched dropped"
    assert served[4:] == ids[0:2], "then the latest uploads"
    assert page.total == 29


def test_profile_from_another_model_serves_cold_start():
    videos, _ = catalogue(20)
    viewers = FakeViewerStore()
    user = profiled_viewer(viewers, model="old-model")
    page = asyncio.run(feed_service(videos, viewers)[0].for_you(user, 1, 5))
    assert page.source == "latest"
    assert page.positives == 5  # a cold-start page still says who it served
    assert len(page.items) == 5
