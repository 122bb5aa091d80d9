"""ViewCountRepository (the recount job's store): the same behaviour from the fake and
Cassandra. The Cassandra keyspace is shared by this module's tests, so ring scans are
checked on this test's own videos only."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

from killrvideo_reco.domain.models import HistoryRow
from killrvideo_reco.jobs.profiles import MAX_TOKEN, MIN_TOKEN, token_splits
from killrvideo_reco.jobs.recount import recount_views

AT = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)


def run(coroutine):
    return asyncio.run(coroutine)


def watched(video_id: uuid.UUID, plays: int) -> HistoryRow:
    return HistoryRow(video_id, AT, AT, plays, 300.0 * plays, 600.0)


def scan(read, mine) -> list[tuple[uuid.UUID, int]]:
    """Every ring split read, keeping only the pairs of `mine`."""
    found = [pair for start, end in token_splits(8) for pair in run(read(start, end))]
    return sorted((pair for pair in found if pair[0] in mine), key=lambda p: (str(p[0]), p[1]))


def test_plays_are_the_watched_rows_of_every_viewer(stores):
    a, b, hidden_only = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    first, second = uuid.uuid4(), uuid.uuid4()
    run(stores.viewers.import_watches([(first, watched(a, 3)), (first, watched(b, 1)),
                                       (second, watched(a, 2)), (second, watched(hidden_only, 0))]))
    mine = {a, b, hidden_only}
    plays = scan(stores.view_counts.plays_in_token_range, mine)
    assert plays == sorted([(a, 2), (a, 3), (b, 1)], key=lambda p: (str(p[0]), p[1]))
    whole_ring = [p for p in run(stores.view_counts.plays_in_token_range(MIN_TOKEN, MAX_TOKEN))
                  if p[0] in mine]
    assert sorted(whole_ring, key=lambda p: (str(p[0]), p[1])) == plays


def test_counters_take_signed_deltas_and_read_back(stores):
    counts = stores.view_counts
    a, b, never = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    run(counts.add(a, 5))
    run(counts.add(a, -2))
    run(counts.add(b, 1))
    assert run(counts.totals([a, b, never])) == {a: 3, b: 1}
    many = [uuid.uuid4() for _ in range(250)] + [b]  # more ids than one IN query carries
    assert run(counts.totals(many)) == {b: 1}
    assert run(counts.totals([])) == {}
    assert scan(counts.counters_in_token_range, {a, b, never}) == sorted(
        [(a, 3), (b, 1)], key=lambda p: (str(p[0]), p[1]))


def test_the_recount_sets_every_counter_to_the_plays_in_history(stores):
    counts = stores.view_counts
    over, under, missing, orphan, exact = (uuid.uuid4() for _ in range(5))
    viewer, other = uuid.uuid4(), uuid.uuid4()
    run(stores.viewers.import_watches([
        (viewer, watched(over, 2)), (other, watched(over, 1)), (viewer, watched(under, 4)),
        (other, watched(missing, 2)), (viewer, watched(exact, 1))]))
    for video_id, views in ((over, 5), (under, 1), (orphan, 7), (exact, 1)):
        run(counts.add(video_id, views))

    summary = run(recount_views(counts, parallelism=2, splits=4))

    mine = [over, under, missing, orphan, exact]
    assert run(counts.totals(mine)) == {over: 3, under: 4, missing: 2, orphan: 0, exact: 1}
    assert summary["videosCorrected"] >= 4 and summary["unsure"] == 0
    again = run(recount_views(counts, parallelism=2, splits=4))
    assert again["videosCorrected"] == 0 and again["totalDelta"] == 0
