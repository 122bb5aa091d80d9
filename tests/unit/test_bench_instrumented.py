"""`make bench`'s profile phase serves the app through bench/instrumented.py's timed feed.
It must wire with today's services: it broke once, unnoticed until a bench run, when
FeedService gained arguments."""
from __future__ import annotations

import asyncio

import pytest

from bench import instrumented
from killrvideo_reco import auth, bootstrap
from killrvideo_reco.api import schemas
from killrvideo_reco.embeddings.factory import build_provider
from killrvideo_reco.service import feed as feed_module
from killrvideo_reco.store import viewers as viewers_module
from tests.fakes import FakeBehaviourStore, FakeViewerStore
from tests.unit.test_feed_service import catalogue, profiled_viewer, settings


@pytest.fixture
def timed(monkeypatch):
    """The timers installed, and every module attribute they replace restored after."""
    for module, name in ((bootstrap, "FeedService"), (feed_module, "based_on_for_items"),
                         (viewers_module, "decode_references"), (auth.TokenVerifier, "__call__"),
                         (schemas.FeedPageOut, "of")):
        monkeypatch.setattr(module, name, getattr(module, name))
    instrumented._install_timers()


def test_the_timed_feed_is_wired_and_serves_what_the_feed_serves(timed):
    videos, ids = catalogue(40)
    viewers = FakeViewerStore()
    user = profiled_viewer(viewers)
    behaviour = FakeBehaviourStore(videos)
    services = bootstrap.build_services(videos, viewers, settings(),
                                        build_provider(settings()), behaviour)

    page = asyncio.run(services.feed.for_you(user, 1, 5))

    assert type(services.feed).__name__ == "TimedFeedService"
    assert page.source == "personalized"
    assert len(page.items) == 5 and {i.summary.video_id for i in page.items} <= set(ids)
    # An experiment's variant feed shares the stores: their methods stay timed once.
    bootstrap.FeedService(videos, viewers, settings(), behaviour)
    assert not hasattr(videos.nearest.__wrapped__, "__wrapped__")
    assert not hasattr(behaviour.nearest.__wrapped__, "__wrapped__")
