"""ExperimentService on the fakes: a variant's feed serves its overrides, assignment is
the hash's, starts conflict on shared settings, and results read the recorded counters."""
from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import numpy as np
import pytest

from killrvideo_reco.domain.experiments import InvalidExperiment, Variant
from killrvideo_reco.domain.models import ProfileReferences
from killrvideo_reco.service.experiments import ExperimentConflict, ExperimentService
from killrvideo_reco.service.feed import FeedService
from killrvideo_reco.service.impressions import ImpressionLog, ImpressionParams
from tests.fakes import (
    FakeBehaviourStore,
    FakeExperimentStore,
    FakeImpressionStore,
    FakeViewerStore,
)
from tests.unit.test_feed_service import DIM, catalogue, settings


def world():
    videos, ids = catalogue(30)
    viewers = FakeViewerStore()
    config = settings()
    impressions = ImpressionLog(FakeImpressionStore(),
                                ImpressionParams(86400, timedelta(hours=24), 1000))
    behaviour = FakeBehaviourStore(videos)
    feed = FeedService(videos, viewers, config, behaviour)

    def build(overridden, run, popularity):
        return FeedService(videos, viewers, overridden, behaviour, popularity_only=popularity)
    store = FakeExperimentStore()
    return ExperimentService(store, None, config, impressions, feed, build), store, viewers


def test_variants_serve_their_feed_and_results_count_per_viewer():
    service, store, viewers = world()

    async def scenario():
        experiment = await service.create("t", [Variant("control", 50),
                                                Variant("popular", 50, {"popularity": True})])
        await service.start(experiment.experiment_id)
        users = [uuid.UUID(int=n) for n in range(1, 41)]
        direction = np.zeros(DIM, dtype=np.float32)
        direction[0] = 1.0
        for user in users:
            await viewers.write_profile(user, direction, "test-model", 5, ProfileReferences(), 1)
        served = {}
        for user in users:
            page, _ = await service.for_you(user, 1, 5)
            served[user] = ((await service.assignment(user)).variant, page.source)
            await service.count_click(user, 30.0)
        assert await service.impressions.drain(5)
        assert {s for v, s in served.values() if v == "popular"} <= {"trending", "latest"}
        assert {s for v, s in served.values() if v == "control"} == {"personalized"}
        assert {v for v, _ in served.values()} == {"control", "popular"}
        assert all(experiment.assign(u).name == served[u][0] for u in users)
        results = await service.results(experiment.experiment_id)
        assert sum(v.viewers for v in results.variants) == 40
        assert sum(v.clicks for v in results.variants) == 40
        assert sum(v.requests for v in results.variants) == 40

    asyncio.run(scenario())


def test_bad_values_and_overlapping_starts_are_refused():
    service, _, _ = world()

    async def scenario():
        with pytest.raises(InvalidExperiment) as bad:
            await service.create("t", [Variant("a", 50),
                                       Variant("b", 50, {"feedCreatorCap": "many"})])
        assert bad.value.field == "variants.1.overrides.feedCreatorCap"
        with pytest.raises(InvalidExperiment) as run:
            await service.create("t", [Variant("a", 50),
                                       Variant("b", 50, {"trainingRun": "r1"})])
        assert run.value.field == "variants.1.overrides.trainingRun"
        first = await service.create("t", [Variant("a", 50),
                                           Variant("b", 50, {"feedDiversityLambda": 0.5})])
        second = await service.create("u", [Variant("a", 50),
                                            Variant("b", 50, {"feedDiversityLambda": 0.7})])
        await service.start(first.experiment_id)
        with pytest.raises(ExperimentConflict) as conflict:
            await service.start(second.experiment_id)
        assert conflict.value.field == "variants.overrides.feedDiversityLambda"
        await service.stop(first.experiment_id)
        await service.start(second.experiment_id)

    asyncio.run(scenario())
