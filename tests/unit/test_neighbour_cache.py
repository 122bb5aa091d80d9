"""The neighbour-list cache: a version's lists are read once per period, never another
version's in their place."""
from __future__ import annotations

import asyncio
import uuid

import numpy as np

from killrvideo_reco.domain.models import NeighbourList
from killrvideo_reco.service.neighbour_cache import NeighbourListCache
from killrvideo_reco.service.ttl_cache import ttl_cache
from tests.fakes.neighbours import FakeNeighbourStore

SPACE = "behaviour_a"


def listed(version: str, *ids: uuid.UUID) -> NeighbourList:
    return NeighbourList(version, 0.0, ids, np.linspace(0.9, 0.5, len(ids)).astype(np.float32))


def world(ttl_s: float = 60.0):
    store = FakeNeighbourStore()
    return store, NeighbourListCache(store, ttl_cache(ttl_s, 100))


def test_a_versions_lists_are_read_once_and_only_the_missing_ones_again():
    store, cache = world()
    a, b, c, d = (uuid.uuid4() for _ in range(4))
    asyncio.run(store.write_neighbour_lists(SPACE, [(a, listed("run-1", c)), (b, listed("run-1", d))]))
    assert asyncio.run(cache.lists([a, b], SPACE, "run-1")) == {
        a: store.lists[(a, SPACE)], b: store.lists[(b, SPACE)]}
    reads = store.reads
    assert set(asyncio.run(cache.lists([a, b], SPACE, "run-1"))) == {a, b}
    assert store.reads == reads, "both lists came from the cache"
    asyncio.run(cache.lists([a, c], SPACE, "run-1"))
    assert store.reads == reads + 1


def test_another_versions_list_is_no_answer_and_a_new_runs_lists_are_read():
    store, cache = world()
    a, b = uuid.uuid4(), uuid.uuid4()
    asyncio.run(store.write_neighbours(a, SPACE, listed("run-1", b)))
    assert asyncio.run(cache.lists([a], SPACE, "run-1"))[a].version == "run-1"
    # The slot is reused by run 3: the cached run-1 list must not answer for it.
    asyncio.run(store.write_neighbours(a, SPACE, listed("run-3", b)))
    assert asyncio.run(cache.lists([a], SPACE, "run-3"))[a].version == "run-3"
    assert asyncio.run(cache.lists([a], SPACE, "run-2")) == {}, "run-3's list is not run-2's"


def test_none_is_cached_only_when_it_is_final():
    store, cache = world()
    a, b = uuid.uuid4(), uuid.uuid4()
    assert asyncio.run(cache.lists([a], "content", "model-1")) == {}
    asyncio.run(store.write_neighbours(a, "content", listed("model-1", b)))
    assert a in asyncio.run(cache.lists([a], "content", "model-1")), \
        "a content list written since is found: its absence was not cached"
    assert asyncio.run(cache.lists([b], SPACE, "run-1", absent_final=True)) == {}
    reads = store.reads
    assert asyncio.run(cache.lists([b], SPACE, "run-1", absent_final=True)) == {}
    assert store.reads == reads, "a live run's missing list is not asked for again"


def test_a_list_put_by_this_replica_replaces_the_cached_one_and_no_cache_reads_through():
    store, cache = world()
    a, b, c = (uuid.uuid4() for _ in range(3))
    asyncio.run(store.write_neighbours(a, "content", listed("model-1", b)))
    asyncio.run(cache.lists([a], "content", "model-1"))
    fresh = listed("model-1", c)
    cache.put(a, "content", fresh)
    assert asyncio.run(cache.lists([a], "content", "model-1"))[a] is fresh

    uncached = NeighbourListCache(store, None)
    reads = store.reads
    asyncio.run(uncached.lists([a], "content", "model-1"))
    asyncio.run(uncached.lists([a], "content", "model-1"))
    assert store.reads == reads + 2
