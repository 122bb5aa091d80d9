"""Related videos on in-memory stores: nearest first, the video itself and what the viewer
saw left out, unknown videos refused."""
from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timezone

import numpy as np
import pytest

from killrvideo_reco.domain.behaviour import behaviour_space
from killrvideo_reco.domain.models import BehaviourRun, NeighbourList, NewVideo
from killrvideo_reco.service.neighbour_cache import NeighbourListCache
from killrvideo_reco.service.neighbours import ContentNeighbours
from killrvideo_reco.service.related import RelatedVideos
from killrvideo_reco.service.ttl_cache import CachedByKey, ttl_cache
from killrvideo_reco.service.view_facts import UnknownVideo, ViewFacts
from tests.fakes import FakeVideoStore, FakeViewerStore
from tests.fakes.neighbours import FakeNeighbourStore


def world():
    videos, viewers = FakeVideoStore(), FakeViewerStore()
    ids = []
    for n in range(12):
        vector = np.zeros(4, dtype=np.float32)
        vector[0], vector[1] = 1.0, n / 10  # video k+1 is the next nearest to video k
        video = NewVideo(uuid.uuid4(), uuid.uuid4(), f"v{n}", "", (), None,
                         datetime.now(timezone.utc), None, 600, vector, "m")
        asyncio.run(videos.add(video))
        ids.append(video.video_id)
    return videos, viewers, ids


def test_nearest_in_content_space_without_the_video_or_what_the_viewer_saw():
    videos, viewers, ids = world()
    related = RelatedVideos(videos, viewers)
    anonymous = asyncio.run(related.related(ids[0], 3))
    assert [r.summary.video_id for r in anonymous] == ids[1:4]
    assert all(r.space == "content" and r.reason == "Similar to v0" for r in anonymous)
    assert [r.similarity for r in anonymous] == sorted((r.similarity for r in anonymous),
                                                       reverse=True)
    viewer = uuid.uuid4()
    viewers.watch(viewer, ids[1])
    viewers.watch(viewer, ids[3])
    theirs = asyncio.run(related.related(ids[0], 3, viewer))
    assert [r.summary.video_id for r in theirs] == [ids[2], ids[4], ids[5]]


def test_an_unknown_video_is_refused():
    videos, viewers, _ = world()
    with pytest.raises(UnknownVideo):
        asyncio.run(RelatedVideos(videos, viewers).related(uuid.uuid4(), 5))


class Live:
    def __init__(self, run):
        self.run = run

    async def get(self):
        return self.run


def with_lists(videos, size=5, cache_ttl_s=0.0):
    store = FakeNeighbourStore()
    cache = NeighbourListCache(store, ttl_cache(cache_ttl_s, 100))
    return store, ContentNeighbours(videos, store, size, max_age_s=3600, cache=cache)


def test_a_live_runs_behaviour_list_is_read_by_key_without_an_ann_query():
    videos, viewers, ids = world()
    store, lists = with_lists(videos, cache_ttl_s=60)
    run = BehaviourRun("run-2", "b", 4, 1.0)
    co_watched = (ids[9], ids[0], ids[7], ids[5])
    asyncio.run(store.write_neighbour_lists(behaviour_space("b"), [(ids[0], NeighbourList(
        "run-2", 0.0, co_watched, np.array([0.9, 0.8, 0.7, 0.6], dtype=np.float32)))]))
    asyncio.run(store.write_neighbours(ids[0], "content", NeighbourList(
        "m", time.time(), (ids[9], ids[1], ids[2]), np.array([0.9, 0.8, 0.7], dtype=np.float32))))
    videos.nearest = None  # any ANN query would fail the test
    viewer = uuid.uuid4()
    viewers.watch(viewer, ids[7])
    found = asyncio.run(RelatedVideos(videos, viewers, lists, Live(run)).related(ids[0], 3, viewer))
    assert [r.summary.video_id for r in found] == [ids[9], ids[5], ids[1]], \
        "the co-watched list without what the viewer saw, topped up from the content list"
    assert [r.space for r in found] == ["behaviour", "behaviour", "content"]
    assert found[0].reason == "Watched by people who watched v0"
    assert found[2].reason == "Similar to v0"


def test_another_runs_list_is_not_served_the_content_list_is():
    videos, viewers, ids = world()
    store, lists = with_lists(videos)
    asyncio.run(store.write_neighbour_lists(behaviour_space("a"), [(ids[0], NeighbourList(
        "run-1", 0.0, (ids[9],), np.array([0.9], dtype=np.float32)))]))
    related = RelatedVideos(videos, viewers, lists, Live(BehaviourRun("run-3", "a", 4, 1.0)))
    found = asyncio.run(related.related(ids[0], 3))
    assert [r.summary.video_id for r in found] == ids[1:4]
    assert {r.space for r in found} == {"content"}
    # The content list was computed once and stored: the next answer reads it by key.
    assert (ids[0], "content") in store.lists
    videos.nearest = None
    assert [r.summary.video_id for r in asyncio.run(related.related(ids[0], 3))] == ids[1:4]


def test_what_does_not_depend_on_the_viewer_is_read_once_per_cache_period():
    videos, viewers, ids = world()
    store, lists = with_lists(videos, cache_ttl_s=60)
    run = BehaviourRun("run-2", "b", 4, 1.0)
    asyncio.run(store.write_neighbour_lists(behaviour_space("b"), [(ids[0], NeighbourList(
        "run-2", 0.0, (ids[9], ids[5]), np.array([0.9, 0.8], dtype=np.float32)))]))
    facts = ViewFacts(videos, ttl_cache(60, 100))
    summaries = CachedByKey(videos.summaries, ttl_cache(60, 100))
    related = RelatedVideos(videos, viewers, lists, Live(run), facts, summaries)
    first = asyncio.run(related.related(ids[0], 2))

    async def refuse(*_args):
        raise AssertionError("read again within the cache period")
    videos.facts_many = videos.summaries = store.neighbour_lists = refuse
    again = asyncio.run(related.related(ids[0], 2))
    assert [r.summary.video_id for r in again] == [r.summary.video_id for r in first] \
        == [ids[9], ids[5]]
    # A viewer's exclusion is read for every answer (the fake viewer store is not refused).
    viewer = uuid.uuid4()
    viewers.watch(viewer, ids[5])
    viewers.watch(viewer, ids[1])
    theirs = asyncio.run(related.related(ids[0], 1, viewer))
    assert [r.summary.video_id for r in theirs] == [ids[9]]


def test_cached_by_key_loads_only_the_missing_keys_once_and_never_caches_absence():
    loads: list[list[str]] = []
    stored = {"a": 1, "b": 2}

    async def load(keys):
        loads.append(keys)
        return {k: stored[k] for k in keys if k in stored}

    cached = CachedByKey(load, ttl_cache(60, 10))
    assert asyncio.run(cached.get_many(["a", "c", "a"])) == {"a": 1}
    assert asyncio.run(cached.get_many(["a", "b"])) == {"a": 1, "b": 2}
    stored["c"] = 3  # stored since: found on the next read, absence was not cached
    assert asyncio.run(cached.get("c")) == 3
    assert loads == [["a", "c"], ["b"], ["c"]]
    uncached = CachedByKey(load, ttl_cache(60, 0))  # size 0: the setting turns it off
    asyncio.run(uncached.get("a"))
    asyncio.run(uncached.get("a"))
    assert loads[-2:] == [["a"], ["a"]]
