"""The feature cache's start-up scan: fills the cache up to its size, then serves every
feature without a key read; a failed scan ends the warm-up instead of blocking readiness."""
from __future__ import annotations

import asyncio
import logging

from killrvideo_reco.service.feature_warmup import FeatureWarmup
from killrvideo_reco.service.neighbours import CandidateFeatures
from tests.unit.test_retrieval import count_feature_reads, world


class Live:
    def __init__(self, run):
        self.run = run

    async def get(self):
        return self.run


def test_the_scan_fills_the_cache_and_the_feed_then_reads_no_feature_by_key():
    videos, behaviour, run, raw, ids, popularity, weights = world(n=120)
    features = CandidateFeatures(behaviour, size=1000)
    warmup = FeatureWarmup(behaviour, features, Live(run), timeout_s=60.0)
    assert not warmup.ready

    asyncio.run(warmup.run())

    assert warmup.ready and warmup.kept == features.cached == 120
    read = count_feature_reads(behaviour)
    found = asyncio.run(features.features(run, ids[:50]))
    assert read == [] and list(found) == ids[:50]
    expected = asyncio.run(behaviour.popular_pool(run, ids[:1]))
    assert abs(found[ids[0]].popularity - float(expected.popularity[0])) < 1e-9


def test_the_scan_stops_at_the_cache_size_and_evicts_nothing():
    videos, behaviour, run, raw, ids, popularity, weights = world(n=120)
    features = CandidateFeatures(behaviour, size=30)
    asyncio.run(features.features(run, ids[:10]))  # already served: kept

    asyncio.run(FeatureWarmup(behaviour, features, Live(run), timeout_s=60.0).run())

    assert features.cached == 30
    read = count_feature_reads(behaviour)
    asyncio.run(features.features(run, ids[:10]))
    assert read == [], "what requests had put in the cache stays"


def test_a_failing_scan_ends_the_warm_up_and_says_so(caplog):
    videos, behaviour, run, raw, ids, popularity, weights = world(n=20)

    async def down(run_, start, end):
        raise ConnectionError("Cassandra is down")
    behaviour.pool_in_token_range = down
    warmup = FeatureWarmup(behaviour, CandidateFeatures(behaviour, size=100), Live(run), 60.0)

    with caplog.at_level(logging.WARNING):
        asyncio.run(warmup.run())

    assert warmup.ready and warmup.kept == 0
    assert "warm-up stopped" in caplog.text and "Cassandra is down" in caplog.text


def test_without_a_feature_cache_or_past_its_time_the_replica_is_ready():
    videos, behaviour, run, raw, ids, popularity, weights = world(n=5)
    off = FeatureWarmup(behaviour, None, Live(run), timeout_s=60.0)
    asyncio.run(off.run())
    assert off.ready and off.kept == 0
    assert FeatureWarmup(behaviour, CandidateFeatures(behaviour, 10), Live(run), 0.0).ready
