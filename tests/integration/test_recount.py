"""`make recount` on Cassandra: histories with known play counts, counters skewed every way
a lost or repeated increment (or a forgotten viewer) leaves them, then the job."""
import asyncio
import random
import time
import uuid
from datetime import datetime, timezone

import pytest

from killrvideo_reco.bootstrap import build_stores
from killrvideo_reco.domain.models import HistoryRow
from killrvideo_reco.jobs.profiles import MAX_TOKEN, MIN_TOKEN
from killrvideo_reco.jobs.recount import recount_from_cli

pytestmark = pytest.mark.integration
AT = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)


def watched(video_id: uuid.UUID, plays: int) -> HistoryRow:
    return HistoryRow(video_id, AT, AT, plays, 300.0 * plays, 600.0)


def all_counters(stores) -> dict[uuid.UUID, int]:
    return dict(asyncio.run(stores.view_counts.counters_in_token_range(MIN_TOKEN, MAX_TOKEN)))


def test_the_recount_makes_every_counter_equal_the_plays_in_history(cassandra, capsys):
    settings, session = cassandra
    ks = settings.cassandra_keyspace
    stores = build_stores(session, ks)
    rng = random.Random(5)
    videos = [uuid.uuid4() for _ in range(40)]
    viewers = [uuid.uuid4() for _ in range(25)]
    rows = [(viewer, watched(video, rng.randint(1, 4)))
            for viewer in viewers for video in rng.sample(videos, 6)]
    forgotten, no_history, hidden_only = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    rows.append((forgotten, watched(videos[0], 3)))

    async def seed() -> None:
        await stores.viewers.import_watches(rows)
        await stores.viewers.forget(forgotten, time.time_ns() // 1000)  # "forget me"
    asyncio.run(seed())
    exact: dict[uuid.UUID, int] = {}
    for viewer, row in rows:
        if viewer != forgotten:
            exact[row.video_id] = exact.get(row.video_id, 0) + row.play_count
    # A viewer with only a taste state (a static-only partition), and a hide-only row.
    session.execute(f"INSERT INTO {ks}.viewer_history (userid, taste_version) VALUES (%s, 1)",
                    (uuid.uuid4(),))
    session.execute(f"INSERT INTO {ks}.viewer_history (userid, videoid, hidden_at) "
                    "VALUES (%s, %s, %s)", (viewers[0], hidden_only, AT))

    viewed = sorted(exact, key=str)
    skew = {video: exact[video] for video in viewed[:10]}                 # exact already
    skew.update({video: exact[video] + 2 for video in viewed[10:18]})     # counted twice
    skew.update({video: exact[video] - 1 for video in viewed[18:24]})     # an increment lost
    skew[videos[0]] = exact[videos[0]] + 3                                # forgotten plays
    skew.update({no_history: 4, hidden_only: 1})                          # no plays at all
    for video, views in skew.items():                                     # the rest: no counter
        session.execute(f"UPDATE {ks}.video_view_counts SET views = views + %s "
                        "WHERE videoid = %s", (views, video))
    plays = asyncio.run(stores.view_counts.plays_in_token_range(MIN_TOKEN, MAX_TOKEN))
    assert None not in {video for video, _ in plays}, "static-only rows are skipped"
    assert hidden_only not in {video for video, _ in plays}, "hide-only rows have no plays"

    assert recount_from_cli(settings, parallelism=4) == 0
    out = capsys.readouterr().out
    corrected = sum(1 for video in viewed if skew.get(video, 0) != exact[video]) + 2
    assert f"{len(viewed) + 2} videos checked, {corrected} corrected" in out

    counters = all_counters(stores)
    assert {v: n for v, n in counters.items() if n} == exact
    assert counters[no_history] == counters[hidden_only] == 0

    assert recount_from_cli(settings, parallelism=4) == 0
    assert ", 0 corrected (total delta +0" in capsys.readouterr().out
    assert all_counters(stores) == counters
