"""ImpressionRepository: the same behaviour from the fake and Cassandra."""
from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta, timezone

from killrvideo_reco.domain.impressions import Impression, ShownItem, days_between


def run(coroutine):
    return asyncio.run(coroutine)


def shown(user: uuid.UUID, videos: list[uuid.UUID], first: int = 1,
          source: str = "personalized") -> Impression:
    return Impression(user, uuid.uuid1(), tuple(ShownItem(v, first + n)
                                                for n, v in enumerate(videos)), source, "default")


def test_a_videos_pages_are_found_by_key_within_their_window_only(stores):
    user, other = uuid.uuid4(), uuid.uuid4()
    videos = [uuid.uuid4() for _ in range(3)]
    page = shown(user, videos, first=11)
    run(stores.impressions.record(page, 3600, 5))
    run(stores.impressions.record(shown(other, videos), 3600, 5))
    at = page.served_at
    since, until = at - timedelta(hours=24), at + timedelta(minutes=5)
    days = days_between(since, until)
    rows = run(stores.impressions.showing(user, videos[1], days, 5, since, until))
    assert [(r.recommendation_id, r.video_id, r.position, r.source, r.variant)
            for r in rows] == [(page.recommendation_id, videos[1], 12, "personalized",
                                "default")]
    # Another page shows it again; the other viewer's page is not the viewer's.
    again = shown(user, videos[1:2], first=4)
    run(stores.impressions.record(again, 3600, 5))
    rows = run(stores.impressions.showing(user, videos[1], days, 5, since,
                                          until + timedelta(minutes=5)))
    assert sorted((r.recommendation_id, r.position) for r in rows) == sorted(
        [(page.recommendation_id, 12), (again.recommendation_id, 4)])
    later = again.served_at  # a window that starts after the first page
    assert later > at
    assert [r.recommendation_id for r in run(stores.impressions.showing(
        user, videos[1], days, 5, later, until + timedelta(minutes=5)))] == [
        again.recommendation_id]
    assert run(stores.impressions.showing(user, videos[1], days, 4, since, until)) == []
    assert run(stores.impressions.showing(user, uuid.uuid4(), days, 5, since, until)) == []


def test_a_days_newest_pages_come_first_in_order_and_stop_at_the_limit(stores):
    from cassandra.util import uuid_from_time  # noqa: PLC0415 - the driver's time UUIDs

    user = uuid.uuid4()
    today = datetime.now(timezone.utc).date()
    start = datetime(today.year, today.month, today.day, 1, tzinfo=timezone.utc)
    pages = [Impression(user, uuid_from_time(start + timedelta(minutes=m)),
                        (ShownItem(uuid.uuid4(), 1), ShownItem(uuid.uuid4(), 2)),
                        "personalized", "default") for m in (0, 10, 20)]
    for page in pages:
        run(stores.impressions.record(page, 3 * 86400, 0))
    day, until = start.date(), start + timedelta(hours=1)
    newest = run(stores.impressions.newest_shown(user, [day], start, until, 2))
    # The newest page's two items in order, then the page before it.
    assert [(r.recommendation_id, r.video_id) for r in newest] == [
        (p.recommendation_id, i.video_id) for p in pages[:0:-1] for i in p.items]
    assert newest[0].served_at == pages[2].served_at
    after_first = start + timedelta(minutes=5)
    assert {r.recommendation_id for r in run(stores.impressions.newest_shown(
        user, [day], after_first, until, 100))} == {p.recommendation_id for p in pages[1:]}
    # Over several days, the newest across them: a page of the day before comes last.
    before = Impression(user, uuid_from_time(start - timedelta(hours=3)),
                        (ShownItem(uuid.uuid4(), 1),), "personalized", "default")
    run(stores.impressions.record(before, 3 * 86400, 0))
    days = [day - timedelta(days=1), day]  # in either order
    across = run(stores.impressions.newest_shown(user, days, start - timedelta(days=1),
                                                 until, 100))
    assert [r.recommendation_id for r in across] == [
        p.recommendation_id for p in reversed(pages) for _ in range(2)] + [
        before.recommendation_id]
    assert [r.recommendation_id for r in run(stores.impressions.newest_shown(
        user, days[::-1], start - timedelta(days=1), until, 2))] == [
        pages[2].recommendation_id] * 2 + [pages[1].recommendation_id] * 2


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


def test_videos_shown_per_day_and_a_videos_impressions_and_viewers(stores):
    carol, dan, erin = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    hit, niche, unseen = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    first = shown(carol, [hit, niche])
    # carol twice (two pages), dan and erin once; dan shares carol's bucket.
    for page, bucket in ((first, 0), (shown(carol, [hit]), 0), (shown(dan, [hit]), 0),
                         (shown(erin, [hit, niche]), 3)):
        run(stores.impressions.record(page, 3600, bucket))
    run(stores.impressions.record(first, 3600, 0))  # a retried write counts once
    day = days_between(first.served_at, first.served_at)[0]
    ours = {hit, niche, unseen}  # other tests of the module record pages on this day too
    listed = [v for v in run(stores.impressions.videos_shown(day, 4)) if v in ours]
    # Once per bucket that saw it: hit and niche in buckets 0 and 3.
    assert sorted(listed) == sorted([hit, niche, hit, niche])
    assert sorted(v for v in run(stores.impressions.videos_shown(day, 1))
                  if v in ours) == sorted([hit, niche])
    by_bucket = run(stores.impressions.video_days(hit, [day, day - timedelta(days=1)], 4))
    assert sorted(by_bucket) == sorted([(day, 3, 2), (day, 1, 1)])  # (shown, viewers)
    assert run(stores.impressions.video_days(unseen, [day], 4)) == []
    assert not ours & set(run(stores.impressions.videos_shown(day - timedelta(days=1), 4)))


def test_forget_erases_one_viewers_pages_and_reach_rows_only(stores):
    user, other, video = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    pages = [shown(user, [video, uuid.uuid4()]), shown(other, [video])]
    for page in pages:
        run(stores.impressions.record(page, 3600, 0))
    at = pages[0].served_at
    since, until = at - timedelta(hours=1), at + timedelta(minutes=5)
    days = days_between(since - timedelta(days=2), until)

    assert run(stores.impressions.forget(user, days, 0)) == 2
    run(stores.impressions.forget(user, days, 0))  # again: nothing left, no error

    assert run(stores.impressions.newest_shown(user, days, since, until, 10)) == []
    assert run(stores.impressions.showing(user, video, days, 0, since, until)) == []
    assert [r.recommendation_id for r in run(stores.impressions.showing(
        other, video, days, 0, since, until))] == [pages[1].recommendation_id]
    assert [d[1:] for d in run(stores.impressions.video_days(video, days, 1))] == [(1, 1)]
