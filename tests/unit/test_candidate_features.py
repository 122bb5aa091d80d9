"""The feature cache: bounded, first in first out, and never mixing two runs."""
from __future__ import annotations

import asyncio

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
