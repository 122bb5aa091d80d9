"""The view-counter recount: the pure corrections, and the job on the in-memory stores."""
from __future__ import annotations

import asyncio
import io
import uuid

from killrvideo_reco.domain.view_counts import add_plays, corrections
from killrvideo_reco.jobs.recount import recount_views
from tests.fakes import FakeViewCountStore, FakeViewerStore

A, B, C, D = (uuid.UUID(int=n) for n in range(1, 5))


def test_plays_are_summed_per_video():
    totals = {A: 1}
    assert add_plays(totals, [(A, 2), (B, 3), (A, 1)]) == 3
    assert totals == {A: 4, B: 3}


def test_each_counter_gets_exact_minus_current():
    exact = {A: 5, B: 2, C: 3}
    current = {A: 7, B: 2, D: 4}  # A counted twice, C never counted, D has no history
    assert corrections(exact, current) == {A: -2, C: 3, D: -4}


def test_nothing_to_correct_when_counters_are_exact():
    assert corrections({A: 1, B: 0}, {A: 1}) == {}
    assert corrections({}, {}) == {}


def recount(counts, **options):
    return asyncio.run(recount_views(counts, parallelism=3, splits=5,
                                     progress_stream=io.StringIO(), **options))


def seeded() -> FakeViewCountStore:
    viewers = FakeViewerStore()
    for viewer, video in ((1, A), (2, A), (1, B)):
        viewers.watch(uuid.UUID(int=100 + viewer), video)
    viewers.totals.update({A: 5, C: 2})  # A over-counted, B missing, C forgotten
    return FakeViewCountStore(viewers)


def test_the_job_makes_every_counter_exact_and_reports_it():
    counts = seeded()
    snapshots = []
    summary = recount(counts, on_progress=lambda p: snapshots.append(p.snapshot()))
    assert counts.viewers.totals == {A: 2, B: 1, C: 0}
    assert summary["videosChecked"] == 3 and summary["videosCorrected"] == 3
    assert summary["totalDelta"] == -4 and summary["viewsInHistory"] == 3
    assert summary["withoutHistory"] == 1 and summary["unsure"] == 0
    assert snapshots[-1]["done"] == snapshots[-1]["total"] == 15
    assert recount(counts)["videosCorrected"] == 0


def test_a_correction_that_timed_out_is_reported_and_the_next_run_settles_it():
    counts = seeded()
    counts.fail_adds = 1  # applied, but the job cannot know it
    first = recount(counts)
    assert first["unsure"] == 1 and first["videosCorrected"] == 2
    assert counts.viewers.totals == {A: 2, B: 1, C: 0}
    assert recount(counts)["videosCorrected"] == 0
