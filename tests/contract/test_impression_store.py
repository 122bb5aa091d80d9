"""ImpressionRepository: the same behaviour from the fake and Cassandra."""
from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

from killrvideo_reco.domain.impressions import Impression, ShownItem, days_between


def run(coroutine):
    return asyncio.run(coroutine)


def shown(user: uuid.UUID, videos: list[uuid.UUID], first: int = 1,
          source: str = "personalized") -> Impression:
    return Impression(user, uuid.uuid1(), tuple(ShownItem(v, first + n)
                                                for n, v in enumerate(videos)), source, "default")


def test_a_page_reads_back_within_its_window_only(stores):
    user, other = uuid.uuid4(), uuid.uuid4()
    videos = [uuid.uuid4() for _ in range(3)]
    page = shown(user, videos, first=11)
    run(stores.impressions.record(page, 3600))
    run(stores.impressions.record(shown(other, videos), 3600))
    at = page.served_at
    since, until = at - timedelta(hours=24), at + timedelta(minutes=5)
    rows = run(stores.impressions.recent(user, since, until, days_between(since, until), 100))
    assert sorted((r.video_id, r.position) for r in rows) == sorted(zip(videos, [11, 12, 13]))
    assert {(r.recommendation_id, r.source, r.variant) for r in rows} == {
        (page.recommendation_id, "personalized", "default")}
    later = at + timedelta(seconds=1)
    assert run(stores.impressions.recent(user, later, later + timedelta(hours=1),
                                         days_between(later, later + timedelta(hours=1)),
                                         100)) == []
    assert len(run(stores.impressions.recent(user, since, until,
                                             days_between(since, until), 2))) == 2


def test_daily_counters_add_up_per_source_variant_and_metric(stores):
    day, other_day = date(2026, 3, 1) + timedelta(days=uuid.uuid4().int % 1000), date(2020, 1, 1)
    for _ in range(5):  # spread over shards in Cassandra
        run(stores.impressions.add_daily(day, "personalized", "default",
                                         {"impressions": 10, "clicks": 1}))
    run(stores.impressions.add_daily(day, "trending", "default", {"impressions": 4}))
    run(stores.impressions.add_daily(other_day, "trending", "default", {"impressions": 7}))
    found = run(stores.impressions.daily([day]))
    assert sorted(found) == sorted([(day, "personalized", "default", "clicks", 5),
                                    (day, "personalized", "default", "impressions", 50),
                                    (day, "trending", "default", "impressions", 4)])
