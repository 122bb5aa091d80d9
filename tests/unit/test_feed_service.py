"""FeedService against in-memory stores: widening, paging, cold start."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import numpy as np

from killrvideo_reco.domain.models import NewVideo, ProfileReferences
from killrvideo_reco.service.feed import FeedService
from killrvideo_reco.settings import Settings
from tests.fakes import FakeVideoStore, FakeViewerStore

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


def test_feed_widens_the_horizon_until_the_page_is_full():
    videos, ids = catalogue(400)
    viewers = FakeViewerStore()
    user = profiled_viewer(viewers)
    for video_id in ids[:120]:  # the 120 nearest are already watched
        viewers.watch(user, video_id)
    feed = FeedService(videos, viewers, settings(feed_candidate_window=50))

    page = asyncio.run(feed.for_you(user, 1, 10))

    assert page.source == "personalized"
    assert page.positives == 5  # the profile's positive videos: what "new viewer" uses
    assert [i.summary.video_id for i in page.items] == ids[120:130]
    assert videos.nearest_limits == [50, 100, 200], "doubles until enough unseen are found"


def test_pages_never_repeat_and_add_up_to_one_long_page():
    videos, ids = catalogue(300)
    viewers = FakeViewerStore()
    user = profiled_viewer(viewers)
    for video_id in ids[:40:3]:
        viewers.watch(user, video_id)
    feed = FeedService(videos, viewers, settings())

    pages = [asyncio.run(feed.for_you(user, n, 10)) for n in (1, 2, 3)]
    long_page = asyncio.run(feed.for_you(user, 1, 30))

    paged = [i.summary.video_id for p in pages for i in p.items]
    assert len(paged) == len(set(paged)) == 30
    assert paged == [i.summary.video_id for i in long_page.items]
    assert not set(paged) & set(ids[:40:3])
    totals = [p.total for p in pages]
    assert totals == sorted(totals), "total may grow as deeper pages widen the horizon"


def test_viewer_without_profile_gets_trending_then_latest_minus_what_they_saw():
    videos, ids = catalogue(30)
    viewers = FakeViewerStore()
    today = datetime.now(timezone.utc).date()
    for n, video_id in enumerate(ids[20:25]):  # ids[20] most viewed
        for _ in range(10 - n):
            asyncio.run(viewers.count_view(video_id, today, True))  # distinct viewers
    newcomer = uuid.uuid4()
    viewers.watch(newcomer, ids[20])
    feed = FeedService(videos, viewers, settings())

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
    page = asyncio.run(FeedService(videos, viewers, settings()).for_you(user, 1, 5))
    assert page.source == "latest"
    assert page.positives == 5  # a cold-start page still says who it served
    assert len(page.items) == 5
