"""`make migrate-impressions` on a real Cassandra: pages stored as item rows before one
row a page (cql/0010) are copied, with the time they had left, so the repeat limit and
view attribution read them as they read new pages."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from cassandra.util import uuid_from_time

from killrvideo_reco.domain.impressions import day_of, days_between
from killrvideo_reco.jobs.impression_pages import copy_item_rows
from killrvideo_reco.store.impressions import ImpressionStore

pytestmark = pytest.mark.integration


def test_item_rows_of_before_the_upgrade_become_pages_that_expire_with_them(cassandra):
    settings, session = cassandra
    keyspace = settings.cassandra_keyspace
    store = ImpressionStore(session, keyspace)
    viewer, videos = uuid.uuid4(), [uuid.uuid4() for _ in range(3)]
    now = datetime.now(timezone.utc)
    page = uuid_from_time(now - timedelta(minutes=10))
    day = day_of(now - timedelta(minutes=10))
    insert = session.prepare(
        f"INSERT INTO {keyspace}.impressions (userid, day, recommendation_id, videoid, "
        "position, source, variant, experiment_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "USING TTL 3600")
    for n, video in enumerate(videos):  # stored in videoid order, not position order
        session.execute(insert, (viewer, day, page, video, 11 + n, "personalized", "b", None))

    summary = asyncio.run(copy_item_rows(store, splits=8))

    assert summary["pagesCopied"] >= 1
    since, until = now - timedelta(days=1), now + timedelta(minutes=1)
    shown = asyncio.run(store.newest_shown(viewer, days_between(since, until), since, until, 5))
    assert [(r.recommendation_id, r.video_id) for r in shown] == [(page, v) for v in videos]
    ttl = session.execute(f"SELECT TTL(source) AS ttl FROM {keyspace}.impression_pages "
                          "WHERE userid = %s AND day = %s", (viewer, day)).one().ttl
    assert 3500 < ttl <= 3600
    # Run again: the same row, nothing doubled.
    asyncio.run(copy_item_rows(store, splits=8))
    assert asyncio.run(store.newest_shown(viewer, [day], since, until, 5)) == shown
