"""The view counters: views of different viewers that commit together share one
statement, and a failed statement fails each of their views."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from killrvideo_reco.domain.errors import StoreUnavailable
from tests.unit.test_activity_service import world


def slow_writes(viewers, name: str, sizes: list[int], fail: bool = False):
    """Make the fake's `name` write take a while (a round trip), recording batch sizes."""
    write = getattr(viewers, name)

    async def in_flight(items):
        sizes.append(len(items))
        await asyncio.sleep(0.01)
        await write(items)
        if fail:
            raise StoreUnavailable("WriteTimeout: replication timed out")

    setattr(viewers, name, in_flight)


def test_views_of_many_viewers_share_their_counter_writes():
    videos, viewers, activity, ids, _ = world()
    users = [uuid.uuid4() for _ in range(12)]
    counts: list[int] = []
    slow_writes(viewers, "count_views", counts)

    async def burst():
        return await asyncio.gather(*(activity.record_view(u, ids[n % 3], f"e{n}", 500, 600)
                                      for n, u in enumerate(users)))

    outcomes = asyncio.run(burst())
    assert not any(o.duplicate for o in outcomes)
    assert sum(counts) == 12, "every view's counts, each once"
    assert len(counts) < 12, "views that committed together share a statement"
    assert max(counts) <= 5, "a statement spans at most 10 partitions"
    assert sum(viewers.totals.values()) == 12
    assert {ids[n] for n in range(3)} == set(viewers.totals)
    assert set(viewers.profiles) == set(users), "every viewer's read model is written"


def test_a_failed_shared_write_fails_each_view_in_it_and_a_retry_counts_once():
    videos, viewers, activity, ids, _ = world()
    users = [uuid.uuid4() for _ in range(4)]
    sizes: list[int] = []
    slow_writes(viewers, "count_views", sizes, fail=True)

    async def burst():
        return await asyncio.gather(
            *(activity.record_view(u, ids[0], f"e-{u}", 500, 600) for u in users),
            return_exceptions=True)

    failed = asyncio.run(burst())
    assert all(isinstance(f, StoreUnavailable) for f in failed), "each client learns of it"
    assert sum(viewers.totals.values()) == 4, "the counts were applied (a timeout's usual case)"
    viewers.count_views = type(viewers).count_views.__get__(viewers)
    for u in users:
        retry = asyncio.run(activity.record_view(u, ids[0], f"e-{u}", 500, 600))
        assert retry.duplicate and retry.play_count == 1
    assert sum(viewers.totals.values()) == 4, "a retried event is not counted again"


@pytest.mark.parametrize("new_viewers", [(True, True, False), (False, False, False)])
def test_merged_counts_add_one_per_view_and_one_per_new_viewer(new_viewers):
    from datetime import date

    from killrvideo_reco.domain.view_counts import ViewCount, merged_counts

    video, day = uuid.uuid4(), date(2026, 12, 5)
    totals, days = merged_counts([ViewCount(video, day, new) for new in new_viewers])
    assert totals == {video: 3}
    assert days == ({(day, video): sum(new_viewers)} if any(new_viewers) else {})
