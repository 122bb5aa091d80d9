"""Impressions and attribution (service/impressions.py, domain/impressions.py) on the fake
store: what is recorded, which impression a view is a click on, failures counted."""
from __future__ import annotations

import asyncio
import io
import uuid
from datetime import datetime, timedelta, timezone

from prometheus_client import REGISTRY

from killrvideo_reco.domain.impressions import (
    ImpressionRow,
    ViewWatch,
    attributed,
    days_between,
    position_label,
    served_at,
)
from killrvideo_reco.service.impressions import ImpressionLog, ImpressionParams
from tests.fakes import FakeImpressionStore

PARAMS = ImpressionParams(30 * 86400, timedelta(hours=24), 100)


def failed_writes(kind: str) -> float:
    return REGISTRY.get_sample_value("killrvideo_impression_writes_total",
                                     {"kind": kind, "outcome": "failed"}) or 0.0


def test_a_time_uuid_carries_when_it_was_served():
    before = datetime.now(timezone.utc)
    at = served_at(uuid.uuid1())
    assert before - timedelta(seconds=1) <= at <= datetime.now(timezone.utc) + timedelta(seconds=1)


def test_the_window_reads_every_day_it_touches():
    start = datetime(2026, 1, 1, 23, tzinfo=timezone.utc)
    assert [d.day for d in days_between(start, start + timedelta(hours=26))] == [1, 2, 3]
    assert position_label(10) == "10" and position_label(11) == "11+"


def test_the_named_impression_wins_else_the_newest_that_showed_the_video():
    video, other = uuid.uuid4(), uuid.uuid4()
    old, new, unrelated = uuid.uuid1(), uuid.uuid1(), uuid.uuid1()
    rows = [ImpressionRow(old, video, 3, "personalized", "default"),
            ImpressionRow(new, video, 1, "related", "default"),
            ImpressionRow(unrelated, other, 2, "personalized", "default")]
    assert attributed(rows, video, None).recommendation_id == new
    assert attributed(rows, video, old).recommendation_id == old
    # An id that did not show this video does not win: the newest that did does.
    assert attributed(rows, video, unrelated).recommendation_id == new
    assert attributed(rows, uuid.uuid4(), None) is None
    assert ViewWatch(45.0, 50.0).completion == 0.9 and ViewWatch(80.0, 50.0).completion == 1.0
    assert ViewWatch(10.0, None).completion is None


def test_a_served_page_is_recorded_in_the_background_and_a_view_attributed():
    store = FakeImpressionStore()

    async def scenario():
        log = ImpressionLog(store, PARAMS)
        user, videos = uuid.uuid4(), [uuid.uuid4() for _ in range(3)]
        recommendation_id = log.served(user, "personalized", videos, first_position=11)
        assert await log.drain(5)

        async def commit():
            return "recorded"
        outcome, row = await log.with_attribution(user, videos[1], None, None, commit())
        assert outcome == "recorded"
        assert row == ImpressionRow(recommendation_id, videos[1], 12, "personalized", "default")
        log.count_click(row, ViewWatch(95.0, 100.0))
        assert await log.drain(5)
        _, unseen = await log.with_attribution(user, uuid.uuid4(), None, None, commit())
        assert unseen is None
        # Anonymous pages get an id but no record.
        log.served(None, "related", videos, 1)
        await log.close(5)
        return recommendation_id

    recommendation_id = asyncio.run(scenario())
    counters = {key[3]: value for key, value in store.counters.items()}
    assert counters["impressions"] == 3 and counters["pages"] == 1
    # Positions 11-13: pooled, no per-position CTR series.
    assert not [k for k in counters if k.startswith(("impressions_p", "clicks_p"))]
    assert counters["clicks"] == 1 and counters["completed"] == 1
    assert counters["watch_seconds"] == 95 and counters["completion_permille"] == 950
    assert sum(len(rows) for rows in store.rows.values()) == 3
    assert all(r.recommendation_id == recommendation_id
               for rows in store.rows.values() for r in rows)


def test_a_failed_write_is_counted_not_raised_and_the_worker_goes_on():
    store = FakeImpressionStore()
    before = failed_writes("counter")

    async def scenario():
        log = ImpressionLog(store, ImpressionParams(86400, timedelta(hours=1), 100))
        # The impression row is retried past a transient failure; a counter is not.
        store.fail_records = store.fail_counters = 1
        log.served(uuid.uuid4(), "trending", [uuid.uuid4()], 1)
        assert await log.drain(10)
        log.served(uuid.uuid4(), "trending", [uuid.uuid4()], 1)
        assert await log.drain(10)
        await log.close(1)

    asyncio.run(scenario())
    assert sum(len(rows) for rows in store.rows.values()) == 2
    per_position = {key[3]: value for key, value in store.counters.items()}
    assert per_position["impressions_p1"] == 1  # the second page's; the first's failed
    assert failed_writes("counter") == before + 1


def test_without_a_store_nothing_is_recorded_but_ids_are_given():
    async def scenario():
        log = ImpressionLog(None, PARAMS)
        assert log.served(uuid.uuid4(), "latest", [uuid.uuid4()], 1).version == 1
        outcome, row = await log.with_attribution(uuid.uuid4(), uuid.uuid4(), None, None,
                                                  asyncio.sleep(0, "done"))
        assert (outcome, row) == ("done", None)
    asyncio.run(scenario())


def test_daily_metrics_are_ratios_of_the_counters():
    from datetime import date

    from killrvideo_reco.domain.online_metrics import daily_metrics
    day = date(2026, 5, 1)
    rows = [(day, "personalized", "a", m, v) for m, v in (
        ("impressions", 200), ("pages", 20), ("clicks", 10), ("impressions_p1", 20),
        ("clicks_p1", 5), ("watch_seconds", 1000), ("views_with_duration", 8),
        ("completion_permille", 6000), ("completed", 4))]
    [m] = daily_metrics(rows + [(day, "personalized", "b", "impressions", 3)])[:1]
    assert (m.ctr, m.ctr_at_position[0], m.ctr_at_position[1]) == (0.05, 0.25, None)
    assert (m.watch_seconds_per_impression, m.mean_completion, m.completed_share) == (
        5.0, 0.75, 0.4)
    assert daily_metrics(rows + [(day, "personalized", "b", "impressions", 3)])[1].ctr == 0.0


def test_only_pages_before_the_current_session_count_towards_the_limit():
    from cassandra.util import uuid_from_time  # noqa: PLC0415 - the driver's time UUIDs

    from killrvideo_reco.domain.impressions import over_shown, session_start
    now = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
    video, other = uuid.uuid4(), uuid.uuid4()

    def page(minutes_ago, *videos):
        rec = uuid_from_time(now - timedelta(minutes=minutes_ago))
        return [ImpressionRow(rec, v, 1, "personalized", "default") for v in videos]
    # Current session: pages 50, 25 and 5 minutes ago (gaps under 30); before: 3 pages.
    rows = (page(5, video, other) + page(25, video) + page(50, video)
            + page(120, video, other) + page(180, video) + page(240, video, other))
    gap = timedelta(minutes=30)
    assert session_start(rows, now, gap) == now - timedelta(minutes=50)
    assert over_shown(rows, 3, now, gap) == {video}
    assert over_shown(rows, 2, now, gap) == {video, other}
    assert over_shown([], 1, now, gap) == set()


def test_the_over_shown_set_is_read_once_per_browsing_session():
    from cassandra.util import uuid_from_time  # noqa: PLC0415 - the driver's time UUIDs

    from killrvideo_reco.domain.impressions import Impression, ShownItem
    from killrvideo_reco.service.repeats import RepeatLimit, RepeatRules
    store, viewer, video = FakeImpressionStore(), uuid.uuid4(), uuid.uuid4()
    now = datetime.now(timezone.utc)
    for hours in (5, 4, 3):  # three pages of earlier sessions showed `video`
        asyncio.run(store.record(Impression(viewer, uuid_from_time(now - timedelta(hours=hours)),
                                            (ShownItem(video, 1),), "personalized", "default"),
                                 3600, 0))
    reads, newest = [], store.newest_shown

    async def counted(*args):
        reads.append(args)
        return await newest(*args)
    store.newest_shown = counted
    clock = [0.0]
    rules = RepeatRules(3, timedelta(days=7), timedelta(minutes=30), cached_viewers=10)
    limit = RepeatLimit(store, rules, clock=lambda: clock[0])
    assert asyncio.run(limit.over_shown(viewer)) == {video}
    per_read = len(reads)  # today, then the older days: fewer rows than the bound
    assert per_read == 2
    clock[0] = 29 * 60.0  # within one gap of the read: the same session, the same pages
    assert asyncio.run(limit.over_shown(viewer)) == {video}
    assert len(reads) == per_read
    clock[0] = 31 * 60.0  # a pause as long as the gap may have ended the session
    assert asyncio.run(limit.over_shown(viewer)) == {video}
    assert len(reads) == 2 * per_read
    uncached = RepeatLimit(store, RepeatRules(3, timedelta(days=7), timedelta(minutes=30)))
    for _ in range(2):
        assert asyncio.run(uncached.over_shown(viewer)) == {video}
    assert len(reads) == 4 * per_read


def test_the_repeat_limit_reads_the_newest_pages_only_up_to_its_bound():
    from cassandra.util import uuid_from_time  # noqa: PLC0415 - the driver's time UUIDs

    from killrvideo_reco.domain.impressions import Impression, ShownItem
    from killrvideo_reco.service.repeats import RepeatLimit, RepeatRules
    store, viewer, video = FakeImpressionStore(), uuid.uuid4(), uuid.uuid4()
    now = datetime.now(timezone.utc)

    def record(at, *videos):
        asyncio.run(store.record(Impression(viewer, uuid_from_time(at), tuple(
            ShownItem(v, n + 1) for n, v in enumerate(videos)), "personalized", "default"),
            3600, 0))
    for days in (5, 4, 3):  # three pages of earlier days showed `video`
        record(now - timedelta(days=days), video)
    for hours in range(30, 6, -1):  # then 24 pages of 10 others, an hour apart
        record(now - timedelta(hours=hours), *(uuid.uuid4() for _ in range(10)))
    reads, newest = [], store.newest_shown

    async def counted(*args):
        reads.append(args)
        return await newest(*args)
    store.newest_shown = counted

    def over_shown(pages):
        rules = RepeatRules(3, timedelta(days=7), timedelta(minutes=30), pages=pages)
        return asyncio.run(RepeatLimit(store, rules).over_shown(viewer))
    assert over_shown(pages=50) == {video}  # 27 pages: every one read
    assert len(reads) == 2
    reads.clear()
    # 24 newer pages fill a bound of 20: the three old pages are not read, nor their days.
    assert over_shown(pages=20) == frozenset()
    assert all(limit > 0 for *_, limit in reads) and len(reads) <= 2
    assert sum(len(asyncio.run(newest(*args))) for args in reads) == 20 * 10


def test_migrate_impressions_copies_live_item_pages_once_and_skips_expired_ones():
    from cassandra.util import uuid_from_time  # noqa: PLC0415 - the driver's time UUIDs

    from killrvideo_reco.domain.impressions import Impression, ShownItem, day_of
    from killrvideo_reco.jobs.impression_pages import copy_item_rows
    store, viewer, video = FakeImpressionStore(), uuid.uuid4(), uuid.uuid4()
    now = datetime.now(timezone.utc)
    alive = Impression(viewer, uuid_from_time(now), (ShownItem(video, 1),), "related", "a")
    gone = Impression(viewer, uuid_from_time(now - timedelta(hours=1)),
                      (ShownItem(uuid.uuid4(), 1),), "personalized", "a")
    store.item_pages = [(alive, 600), (gone, 0)]
    store.fail_records = 1  # a timed-out copy is retried

    summary = asyncio.run(copy_item_rows(store, splits=4, progress_stream=io.StringIO()))
    asyncio.run(copy_item_rows(store, splits=4, progress_stream=io.StringIO()))

    assert summary["pagesCopied"] == 1 and summary["pagesWithoutTtl"] == 1
    assert [(r.recommendation_id, r.video_id, r.source) for r in
            store.rows[(viewer, day_of(alive.served_at))]] == [(alive.recommendation_id, video, "related")]


def test_forget_erases_the_viewers_pages_and_reach_rows_of_every_day_alive():
    from cassandra.util import uuid_from_time  # noqa: PLC0415 - the driver's time UUIDs

    from killrvideo_reco.domain.impressions import Impression, ShownItem
    store, viewer, other, video = FakeImpressionStore(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    params = ImpressionParams(ttl_s=3 * 86400, attribution_window=timedelta(hours=24),
                              queue_size=10, video_buckets=1)
    log = ImpressionLog(store, params)
    now = datetime.now(timezone.utc)
    for who in (viewer, other):
        for days in (0, 2):  # today and two days ago, within the TTL
            asyncio.run(store.record(Impression(who, uuid_from_time(now - timedelta(days=days)),
                                                (ShownItem(video, 1),), "personalized",
                                                "default"), params.ttl_s, 0))

    assert asyncio.run(log.forget(viewer, now)) == 2

    assert all(user != viewer for user, _ in store.rows) and len(store.rows) == 2
    assert {key[3] for key in store.shown} == {other}
