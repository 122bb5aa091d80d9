"""The head's recent likes and interest medoids are references (layout 6 on): the service
resolves them through the facts cache, one read for the misses, and a deleted video drops
out of the recent list without failing a view. A snapshot at every commit
(journal_commits=1), so that each view's head is the one stored."""
from __future__ import annotations

import asyncio
import uuid

import numpy as np
from cachetools import TTLCache

from killrvideo_reco.service.activity import ActivityService
from tests.unit.test_activity_service import DIM, MODEL, world


class CountingVideos:
    """The fake catalogue, counting the batched facts reads."""

    def __init__(self, videos):
        self.inner, self.reads = videos, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def facts_many(self, video_ids):
        self.reads.append(list(video_ids))
        return await self.inner.facts_many(video_ids)


def test_references_resolve_from_the_cache_and_one_read_of_the_misses():
    videos, viewers, _, ids, params = world()
    counted = CountingVideos(videos)
    cache: TTLCache = TTLCache(maxsize=100, ttl=600)
    activity = ActivityService(counted, viewers, params, DIM, facts_cache=cache,
                               journal_commits=1)
    user = uuid.uuid4()
    for n in range(4):
        asyncio.run(activity.record_view(user, ids[n], f"e{n}", 500, 600))
    assert counted.reads == [], "every referenced video was viewed, so cached"
    cache.clear()
    asyncio.run(activity.record_view(user, ids[4], "e4", 500, 600))
    assert len(counted.reads) == 1, "the misses in one read"
    assert set(counted.reads[0]) == set(ids[:4])
    head = viewers.tastes[user].state
    assert [r.video_id for r in head.recent] == [ids[n] for n in (4, 3, 2, 1, 0)]
    # no cache at all: still one read a commit
    uncached = ActivityService(counted, viewers, params, DIM, journal_commits=1)
    asyncio.run(uncached.record_view(user, ids[5], "e5", 500, 600))
    assert len(counted.reads) == 2 and set(counted.reads[1]) == set(ids[:5])


def test_a_deleted_video_leaves_the_recent_likes_and_the_sums_wait_for_a_rebuild():
    videos, viewers, _, ids, params = world()
    activity = ActivityService(videos, viewers, params, DIM, journal_commits=1)
    user = uuid.uuid4()
    for n in range(4):
        asyncio.run(activity.record_view(user, ids[n], f"e{n}", 500, 600))
    head = viewers.tastes[user].state
    medoids = {i.medoid_id for i in head.interests}
    gone = ids[0] if ids[0] in medoids else next(iter(medoids))
    del videos.videos[gone]  # deleted from the catalogue
    asyncio.run(activity.record_view(user, ids[4], "e4", 500, 600))
    after = viewers.tastes[user].state
    assert gone not in after.references(), "dropped from the recent likes and the medoids"
    assert len(after.recent) == 4 and after.interests
    assert after.positive_count() == 5, "the sums keep it until a rebuild, as before"
    prefs = asyncio.run(viewers.profile(user))
    assert gone not in prefs.references.recent, "the read model refers to it no more"
    asyncio.run(activity.rebuild(user, videos.model))
    rebuilt = viewers.tastes[user].state
    assert rebuilt.positive_count() == 4, "the rebuild from history leaves it out"
    vector = rebuilt.preference_vector(params)
    assert vector is not None and np.all(np.isfinite(vector))


def test_the_reference_cache_outlives_the_facts_cache():
    videos, viewers, _, ids, params = world()
    counted = CountingVideos(videos)
    facts: TTLCache = TTLCache(maxsize=100, ttl=600)
    references: TTLCache = TTLCache(maxsize=100, ttl=3600)
    activity = ActivityService(counted, viewers, params, DIM, facts_cache=facts,
                               reference_cache=references, journal_commits=1)
    user = uuid.uuid4()
    for n in range(3):
        asyncio.run(activity.record_view(user, ids[n], f"e{n}", 500, 600))
    facts.clear()  # FEED_CACHE_TTL_S later: the facts are gone, the references are not
    asyncio.run(activity.record_view(user, ids[3], "e3", 500, 600))
    assert counted.reads == [], "every video viewed here is known by reference"
    assert {(v, MODEL) for v in ids[:4]} <= set(references)
    references.clear()  # a restart, or an hour later
    facts.clear()
    asyncio.run(activity.record_view(user, ids[4], "e4", 500, 600))
    assert len(counted.reads) == 1 and set(counted.reads[0]) == set(ids[:4]), "one read"
