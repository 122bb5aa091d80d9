"""Reach (domain/reach.py, service/impressions.py on the fake store): catalogue coverage,
a video's impressions and viewers per day, and new viewers' personalised share."""
from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta, timezone

from prometheus_client import REGISTRY

from killrvideo_reco.domain.online_metrics import daily_metrics
from killrvideo_reco.domain.reach import (
    coverage,
    is_new_viewer,
    new_viewer_personalised_share,
    video_days,
    viewer_bucket,
)
from killrvideo_reco.service.impressions import ImpressionLog, ImpressionParams
from tests.fakes import FakeImpressionStore

DAY = date(2026, 5, 1)


def test_a_viewer_has_one_bucket_spread_over_all_of_them():
    users = [uuid.uuid4() for _ in range(400)]
    assert all(viewer_bucket(u, 8) == viewer_bucket(u, 8) for u in users)
    counts = [sum(viewer_bucket(u, 8) == b for u in users) for b in range(8)]
    assert min(counts) > 20  # 50 expected in each
    assert {viewer_bucket(u, 1) for u in users} == {0}


def test_new_viewers_are_those_with_few_positives_and_unknown_when_unread():
    assert is_new_viewer(0, 10) and is_new_viewer(9, 10)
    assert is_new_viewer(10, 10) is False
    assert is_new_viewer(None, 10) is None


def test_coverage_counts_each_video_once_over_the_buckets():
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    covered = coverage(DAY, [a, b, a, c, a], 12)
    assert (covered.distinct_videos_shown, covered.catalogue_size) == (3, 12)
    assert covered.coverage == 0.25
    assert coverage(DAY, [], 0).coverage is None
    assert coverage(DAY, [a], None).coverage is None


def test_a_videos_days_sum_the_buckets_and_keep_empty_days():
    days = [DAY, DAY - timedelta(days=1), DAY - timedelta(days=2)]
    found = video_days(days, [(DAY, 3, 2), (DAY, 1, 1), (days[2], 4, 4),
                              (DAY + timedelta(days=9), 5, 5)])  # not asked: ignored
    assert [(d.day, d.impressions, d.viewers) for d in found] == [
        (DAY, 4, 3), (days[1], 0, 0), (days[2], 4, 4)]


def test_the_personalised_share_is_over_the_feed_sources_of_a_day_and_variant():
    assert new_viewer_personalised_share({"personalized": 3, "trending": 1}) == 0.75
    assert new_viewer_personalised_share({"related": 4}) is None
    rows = [(DAY, "personalized", "a", "new_viewer_pages", 6),
            (DAY, "trending", "a", "new_viewer_pages", 2),
            (DAY, "latest", "a", "new_viewer_pages", 4),
            (DAY, "related", "a", "impressions", 9),
            (DAY, "trending", "b", "impressions", 5)]
    found = {(m.source, m.variant): m for m in daily_metrics(rows)}
    assert found["personalized", "a"].new_viewer_pages == 6
    assert found["latest", "a"].new_viewer_pages == 4
    # 6 of 12 new-viewer pages of variant a, repeated on each of its entries.
    assert {m.new_viewer_personalised_share for (s, v), m in found.items()
            if v == "a" and s != "related"} == {0.5}
    assert found["related", "a"].new_viewer_personalised_share is None  # not a feed page
    assert found["trending", "b"].new_viewer_personalised_share is None


def new_viewer_pages(source: str) -> float:
    return REGISTRY.get_sample_value("killrvideo_reco_new_viewer_pages_total",
                                     {"source": source, "variant": "default"}) or 0.0


def test_served_pages_record_coverage_viewers_and_new_viewer_pages():
    store = FakeImpressionStore()
    params = ImpressionParams(86400, timedelta(hours=24), 100, video_buckets=4,
                              new_viewer_max_positives=10)
    hit, niche = uuid.uuid4(), uuid.uuid4()
    carol, dan = uuid.uuid4(), uuid.uuid4()
    before = new_viewer_pages("trending"), new_viewer_pages("personalized")

    async def catalogue_size() -> int:
        return 8

    async def scenario():
        log = ImpressionLog(store, params, catalogue_size)
        log.served(carol, "trending", [hit, niche], 1, positives=0)  # new, fallback
        log.served(carol, "trending", [hit], 3, positives=0)
        log.served(dan, "personalized", [hit], 1, positives=25)  # not new
        log.served(dan, "related", [niche], 1)  # not a feed page: not classified
        assert await log.drain(5)
        today = datetime.now(timezone.utc).date()
        covered = await log.coverage([today, today - timedelta(days=1)])
        days = await log.video_impressions(hit, [today, today - timedelta(days=1)])
        metrics = await log.daily_metrics([today])
        await log.close(1)
        return covered, days, metrics

    covered, days, metrics = asyncio.run(scenario())
    assert [(c.distinct_videos_shown, c.coverage) for c in covered] == [(2, 0.25), (0, 0.0)]
    assert [(d.impressions, d.viewers) for d in days] == [(3, 2), (0, 0)]
    by_source = {m.source: m for m in metrics}
    assert by_source["trending"].new_viewer_pages == 2
    assert by_source["personalized"].new_viewer_pages == 0
    assert by_source["trending"].new_viewer_personalised_share == 0.0
    assert new_viewer_pages("trending") == before[0] + 2
    assert new_viewer_pages("personalized") == before[1]


def test_days_past_the_ttl_or_to_come_are_not_read():
    store = FakeImpressionStore()
    asked: list[date] = []
    original = store.videos_shown

    async def counting(day, buckets):
        asked.append(day)
        return await original(day, buckets)
    store.videos_shown = counting
    log = ImpressionLog(store, ImpressionParams(3 * 86400, timedelta(hours=1), 10))
    today = datetime.now(timezone.utc).date()
    days = [today + timedelta(days=n) for n in range(-10, 4)]
    found = asyncio.run(log.coverage(days))
    assert [c.day for c in found] == days and all(c.distinct_videos_shown == 0 for c in found)
    assert asked == [today + timedelta(days=n) for n in range(-4, 2)]
