"""A viewer's kept nearest list on a real Cassandra: a page 1 keeps its behaviour ANN
answer with the read model, a page 1 after a view answers from it without an ANN query,
a retrain makes it stale, and "forget me" erases it."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from killrvideo_reco.bootstrap import build_resources
from killrvideo_reco.embeddings.factory import build_provider
from killrvideo_reco.jobs.train import run_training
from tests.integration.seeding import topic_world

pytestmark = pytest.mark.integration


def test_a_page_1_after_a_view_answers_from_the_kept_list_until_a_retrain(cassandra):
    base, _ = cassandra
    # Any query moved by a view still reuses the list here: what is tested is the path.
    settings = base.model_copy(update={"feed_viewer_nearest_min_cosine": 0.0,
                                       "feed_list_cache_size": 0})
    resources = build_resources(settings, build_provider(settings))
    try:
        asyncio.run(_scenario(resources, settings))
    finally:
        resources.close()


async def _scenario(resources, settings):
    ids, viewers = await topic_world(resources, np.random.default_rng(7))
    await run_training(resources, settings)
    queries: list[int] = []
    ann = resources.behaviour.nearest_ids

    async def counted(run, space, query, limit):
        if space == "behaviour":
            queries.append(limit)
        return await ann(run, space, query, limit)

    resources.behaviour.nearest_ids = counted  # type: ignore[method-assign]
    user = viewers["db"][0]
    feed, viewer_store = resources.feed, resources.viewers

    first = await feed.for_you(user, 1, 5)
    assert first.source == "personalized" and len(queries) == 1
    live = await resources.behaviour.active_run()
    kept = (await viewer_store.profile(user)).nearest
    assert kept is not None and kept.run_id == live.run_id and kept.depth == queries[0]

    top = first.items[0].summary.video_id
    await resources.activity.record_view(user, top, "kept-list-view", 590, 600)
    again = await feed.for_you(user, 1, 5)
    assert len(queries) == 1, "the page 1 after the view made no ANN query"
    assert top not in {i.summary.video_id for i in again.items}, "exclusion stays exact"
    still = (await viewer_store.profile(user)).nearest
    assert (still.video_ids, still.computed_at) == (kept.video_ids, kept.computed_at)

    await run_training(resources, settings)  # a new run: the list is of the old one
    await feed.for_you(user, 1, 5)
    assert len(queries) == 2
    assert (await viewer_store.profile(user)).nearest.run_id != live.run_id

    await resources.privacy.forget(user)
    assert await viewer_store.profile(user) is None, "forget me erases the kept list too"
