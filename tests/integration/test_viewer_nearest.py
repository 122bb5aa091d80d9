"""A viewer's kept nearest list on a real Cassandra: training keeps one for every viewer
of the new run, a page 1 (after a view too) answers from it without an ANN query, a query
moved past the threshold is answered by one whose answer is kept, and "forget me" erases
the list."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from killrvideo_reco.bootstrap import build_resources
from killrvideo_reco.embeddings.factory import build_provider
from killrvideo_reco.jobs.train import run_training
from killrvideo_reco.jobs.viewer_lists import kept_depth
from tests.integration.seeding import topic_world

pytestmark = pytest.mark.integration


def test_kept_lists_from_training_answer_page_1s_until_the_query_moves(cassandra):
    base, _ = cassandra
    # No ranked-list cache, so that each page 1 runs retrieval; any move of the query is
    # within the threshold here, and nothing is within it for the strict replica.
    settings = base.model_copy(update={"feed_viewer_nearest_min_cosine": 0.0,
                                       "feed_list_cache_size": 0})
    strict = settings.model_copy(update={"feed_viewer_nearest_min_cosine": 1.0})
    resources = build_resources(settings, build_provider(settings))
    other = build_resources(strict, build_provider(strict))
    try:
        asyncio.run(_scenario(resources, other, settings))
    finally:
        resources.close()
        other.close()


async def _scenario(resources, strict, settings):
    ids, viewers = await topic_world(resources, np.random.default_rng(7))
    # As after a bulk import: no video got its content list at upload.
    resources.database.session.execute(
        f"TRUNCATE {settings.cassandra_keyspace}.video_neighbours")
    summary = await run_training(resources, settings)
    assert summary["viewerLists"] >= 45
    assert summary["contentLists"] >= 3, "the interests' medoids got their content lists"
    queries: list[int] = []
    for replica in (resources, strict):
        replica.behaviour.nearest_ids = _counting(replica.behaviour.nearest_ids, queries)
    content_queries: list[int] = []
    content_ann = resources.videos.nearest

    async def counted_content(vector, limit):
        content_queries.append(limit)
        return await content_ann(vector, limit)
    resources.videos.nearest = counted_content
    user = viewers["db"][0]
    feed, store = resources.feed, resources.viewers
    live = await resources.behaviour.active_run()
    profile = await store.profile(user)
    kept = profile.nearest
    assert kept is not None and kept.run_id == live.run_id
    assert kept.depth == kept_depth(settings.candidate_sizes.behaviour, profile.item_count,
                                    settings.feed_max_ann_limit)

    assert profile.references.interests, "the viewer has interests to find candidates for"
    first = await feed.for_you(user, 1, 5)
    assert first.source == "personalized" and queries == [], "training kept the list"
    assert content_queries == [], "training computed the interests' content lists"
    top = first.items[0].summary.video_id
    await resources.activity.record_view(user, top, "kept-list-view", 590, 600)
    again = await feed.for_you(user, 1, 5)
    assert queries == [], "the page 1 after the view made no ANN query"
    assert top not in {i.summary.video_id for i in again.items}, "exclusion stays exact"

    await resources.activity.record_view(user, again.items[0].summary.video_id,
                                         "kept-list-view-2", 590, 600)
    await strict.feed.for_you(user, 1, 5)  # the query moved: past a threshold of 1
    assert len(queries) == 1
    fresh = (await store.profile(user)).nearest
    assert fresh.computed_at > kept.computed_at and fresh.run_id == live.run_id

    await resources.privacy.forget(user)
    assert await store.profile(user) is None, "forget me erases the kept list too"


def _counting(nearest_ids, queries: list[int]):
    async def counted(run, space, query, limit):
        if space == "behaviour":
            queries.append(limit)
        return await nearest_ids(run, space, query, limit)
    return counted
