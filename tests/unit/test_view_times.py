"""watchedAt rules (domain/history.py) and trending by distinct viewers, through the
activity service on the in-memory stores."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from killrvideo_reco.domain.history import InvalidViewTime, ViewTimeRules, first_view_on_its_day
from killrvideo_reco.domain.models import HistoryRow
from tests.unit.test_activity_service import world

NOW = datetime(2026, 12, 3, 12, tzinfo=timezone.utc)
RULES = ViewTimeRules(clock_skew_s=300)


def test_a_time_beyond_the_clock_skew_allowance_is_refused():
    RULES.check(NOW + timedelta(seconds=299), NOW)
    with pytest.raises(InvalidViewTime, match="in the future"):
        RULES.check(NOW + timedelta(seconds=301), NOW)
    with pytest.raises(InvalidViewTime, match="in the future"):
        RULES.check(datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc), NOW)


def test_a_zero_value_time_is_refused_and_an_old_real_one_is_not():
    for unset in (datetime(1, 1, 1, tzinfo=timezone.utc), datetime(1970, 1, 1, tzinfo=timezone.utc)):
        with pytest.raises(InvalidViewTime, match="unset"):
            RULES.check(unset, NOW)
    RULES.check(datetime(1996, 3, 29, tzinfo=timezone.utc), NOW)  # MovieLens's first rating


def test_a_refused_view_writes_nothing():
    videos, viewers, activity, ids, _ = world()
    user = uuid.uuid4()
    future = datetime.now(timezone.utc) + timedelta(days=1)
    with pytest.raises(InvalidViewTime):
        asyncio.run(activity.record_view(user, ids[0], "e1", 300, 600, future))
    assert viewers.rows == {} and viewers.tastes == {} and viewers.views == {}


def test_a_legacy_future_row_cannot_outweigh_the_present_views():
    videos, viewers, activity, ids, params = world()
    user = uuid.uuid4()
    now = datetime.now(timezone.utc)
    for n in range(1, 6):
        asyncio.run(activity.record_view(user, ids[n], f"e{n}", 500, 600, now))
    # A row written before times were checked, dated far in the future.
    viewers.rows[user][ids[0]] = HistoryRow(ids[0], datetime(9999, 12, 31, tzinfo=timezone.utc),
                                            datetime(9999, 12, 31, tzinfo=timezone.utc), 1,
                                            500.0, 600.0)
    assert asyncio.run(activity.rebuild(user, videos.model)) is True
    state = viewers.tastes[user].state
    vector = state.preference_vector(params)
    assert np.all(np.isfinite(vector))
    assert state.reference_time <= now.timestamp() + 301, "the future row counts as now"
    present = [np.asarray(videos.videos[v].content_features) for v in ids[1:6]]
    future = np.asarray(videos.videos[ids[0]].content_features)
    unit = lambda v: v / np.linalg.norm(v)  # noqa: E731
    cosine_present = float(np.mean([unit(p) @ vector for p in present]))
    assert cosine_present > float(unit(future) @ vector), "five present views outweigh one"


def test_first_view_on_its_day():
    video = uuid.uuid4()
    assert first_view_on_its_day(None, NOW)
    row = HistoryRow(video, NOW - timedelta(days=2), NOW - timedelta(hours=1), 3, 10.0)
    assert not first_view_on_its_day(row, NOW)
    assert first_view_on_its_day(row, NOW + timedelta(days=1))
    assert not first_view_on_its_day(row, NOW - timedelta(days=2))


def test_one_account_replaying_a_video_moves_trending_by_one():
    videos, viewers, activity, ids, _ = world()
    user, other = uuid.uuid4(), uuid.uuid4()
    today = datetime.now(timezone.utc).date()

    async def replay():
        for n in range(1000):
            await activity.record_view(user, ids[0], f"replay-{n}", 30, 600)
        await activity.record_view(other, ids[0], "other", 30, 600)

    asyncio.run(replay())
    assert viewers.views[(today, ids[0])] == 2, "two distinct viewers today"
    assert viewers.totals[ids[0]] == 1001, "every view still counts in the total"
