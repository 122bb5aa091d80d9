"""One set of store tests, run against the in-memory fakes and the Cassandra stores alike,
so a fake cannot drift from the real thing."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from killrvideo_reco.settings import Settings
from tests.fakes import (
    FakeBehaviourStore,
    FakeImpressionStore,
    FakeJobStore,
    FakeMetadataStore,
    FakeNeighbourStore,
    FakeVideoStore,
    FakeViewCountStore,
    FakeViewerStore,
)


@pytest.fixture(params=["fake", "cassandra"])
def stores(request):
    if request.param == "fake":
        videos, viewers = FakeVideoStore(), FakeViewerStore()
        return SimpleNamespace(videos=videos, viewers=viewers,
                               behaviour=FakeBehaviourStore(videos), metadata=FakeMetadataStore(),
                               jobs=FakeJobStore(), view_counts=FakeViewCountStore(viewers),
                               neighbours=FakeNeighbourStore(),
                               impressions=FakeImpressionStore(),
                               settings=Settings(dev_mode=True))
    from killrvideo_reco.bootstrap import build_stores

    settings, session = request.getfixturevalue("cassandra")
    built = build_stores(session, settings.cassandra_keyspace)
    return SimpleNamespace(**vars(built), settings=settings)
