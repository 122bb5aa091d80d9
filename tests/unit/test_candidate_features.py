"""The feature cache: bounded, first in first out, never mixing two runs, counted."""
from __future__ import annotations

import asyncio

import numpy as np
from prometheus_client import REGISTRY

from killrvideo_reco.domain.models import BehaviourRun
from killrvideo_reco.service.neighbours import CandidateFeatures
from tests.unit.test_retrieval import count_feature_reads, world


def test_features_are_read_once_kept_up_to_the_bound_and_dropped_with_the_run():
    videos, behaviour, run, raw, ids, popularity, weights = world()
    read = count_feature_reads(behaviour)
    features = CandidateFeatures(behaviour, size=50)

    first = asyncio.run(features.features(run, ids[:40]))
    again = asyncio.run(features.features(run, ids[:40]))
    assert read == [40] and again.keys() == first.keys()
    asyncio.run(features.features(run, ids[40:70]))  # 70 > 50: the first 20 go
    asyncio.run(features.features(run, ids[:25]))
    assert read == [40, 30, 20], "only the 20 oldest were dropped"

    other = BehaviourRun("r2", "b", run.dimension, run.max_norm, run.ranker)
    asyncio.run(features.features(other, ids[:5]))
    assert read[-1] == 5, "another run's vectors are read afresh"


def _counted(result: str) -> float:
    return REGISTRY.get_sample_value("killrvideo_feature_cache_total", {"result": result}) or 0.0


def test_hits_and_misses_are_counted_and_content_is_kept_in_half_precision():
    videos, behaviour, run, raw, ids, popularity, weights = world()
    features = CandidateFeatures(behaviour, size=50)
    hits, misses = _counted("hit"), _counted("miss")

    asyncio.run(features.features(run, ids[:10]))
    found = asyncio.run(features.features(run, ids[5:20]))

    assert (_counted("hit") - hits, _counted("miss") - misses) == (5, 20)
    some = found[ids[5]]
    assert some.content.dtype == np.float16
    x = videos.videos[ids[5]].content_features
    np.testing.assert_allclose(some.content, x / np.linalg.norm(x), atol=1e-3)
