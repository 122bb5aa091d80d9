"""What the feed's repeat limit and a view's attribution read of impressions does not grow
with how much the viewer browsed: a viewer with 300 pages (3,000 items) in the window costs
what one with 20 costs (bytes and statements, counted at the store layer's entry point)."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from cassandra.util import uuid_from_time

from bench.view_bytes import ByteMeter
from killrvideo_reco.bootstrap import impression_params, repeat_rules
from killrvideo_reco.domain.impressions import Impression, ShownItem
from killrvideo_reco.domain.reach import viewer_bucket
from killrvideo_reco.service.impressions import ImpressionLog
from killrvideo_reco.service.repeats import RepeatLimit
from killrvideo_reco.store.impressions import ImpressionStore

pytestmark = pytest.mark.integration


async def browse(store: ImpressionStore, user: uuid.UUID, pages: int, buckets: int,
                 shown: uuid.UUID) -> None:
    """`pages` pages of 10 over the last two days, an hour's pages every 10 minutes apart;
    the first item of the newest page is `shown`."""
    now = datetime.now(timezone.utc)
    for n in range(pages):
        at = now - timedelta(minutes=5 + 40 * n / max(1, pages // 60))
        items = [ShownItem(shown if n == 0 and k == 0 else uuid.uuid4(), k + 1)
                 for k in range(10)]
        await store.record(Impression(user, uuid_from_time(at), tuple(items), "personalized",
                                      "default"), 3 * 86400, viewer_bucket(user, buckets))


def test_impression_reads_cost_the_same_whatever_the_viewer_browsed(cassandra):
    settings, session = cassandra
    store = ImpressionStore(session, settings.cassandra_keyspace)
    rules = repeat_rules(settings)
    params = impression_params(settings)
    light, heavy, video = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    async def run():
        await browse(store, light, 2, params.video_buckets, video)
        await browse(store, heavy, 300, params.video_buckets, video)
        costs = {}
        for user in (light, heavy):
            repeats, attribution = ByteMeter(), ByteMeter()
            with repeats.watching():
                await RepeatLimit(store, rules).over_shown(user)
            with attribution.watching():
                found = await ImpressionLog(store, params).showing(
                    user, video, datetime.now(timezone.utc))
            assert [r.video_id for r in found] == [video]  # the newest page showed it
            costs[user] = (repeats, attribution)
        return costs

    costs = asyncio.run(run())
    (light_repeats, light_view), (heavy_repeats, heavy_view) = costs[light], costs[heavy]
    for name, light_cost, heavy_cost in (("repeat limit", light_repeats, heavy_repeats),
                                         ("attribution", light_view, heavy_view)):
        print(f"\n{name}: light {light_cost.read} bytes in {light_cost.statements} "
              f"statements, heavy {heavy_cost.read} bytes in {heavy_cost.statements}")
    # The repeat limit reads a row a page (its id and its videos'), today's newest
    # FEED_IMPRESSION_PAGES, then as many as are still wanted from each older day of the
    # window, in two statements at most: the 300 pages' viewer (three days) pays that
    # bound, not their browsing.
    page = 16 + 10 * 16
    assert heavy_repeats.read <= 3 * settings.feed_impression_pages * page < 300 * page
    assert heavy_repeats.statements <= 2 and light_repeats.statements <= 2
    # A view's attribution reads by key, never filtering the viewer's rows on the node,
    # so it is the same for both viewers.
    assert heavy_view.filtering == light_view.filtering == 0
    assert heavy_view.statements == light_view.statements
    assert heavy_view.read == light_view.read
