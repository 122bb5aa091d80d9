"""`make recount`: set every video's all-time view counter (video_view_counts) to the
views its viewing history holds.

Why: the view path adds 1 to the counter after it commits the view to the history, and a
counter increment is not idempotent. One that times out (a node lost mid-write) may or
may not have been applied, and its retry is a duplicate event that is not counted again;
a crash between the commit and the increment loses one. The history rows are the record.

How:
1. Scan viewer_history by token range and sum the play counts per video (in memory: one
   entry per video ever viewed).
2. Scan video_view_counts by token range: a counter whose video is in no history any more
   (its viewers were forgotten) must go to 0.
3. Batch by batch, read the counters again and add exact - current to each that differs.

The race: a view whose history commit and counter increment straddle this job (its viewer
scanned in 1 before the commit, its counter read in 3 after the increment, or the other
way round) is lost or counted twice. So the totals are exact for videos with no views in
flight while the job runs: run it after an incident and on a schedule at low traffic
(nightly); the next run corrects what this one raced with.
"""
from __future__ import annotations

import asyncio
import logging
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

from killrvideo_reco.domain.errors import StoreUnavailable
from killrvideo_reco.domain.view_counts import add_plays, corrections
from killrvideo_reco.jobs.profiles import token_splits
from killrvideo_reco.jobs.progress import Progress
from killrvideo_reco.retries import retry_transient
from killrvideo_reco.service.ports import ViewCountRepository

log = logging.getLogger(__name__)
DEFAULT_SPLITS = 256
# Corrections in flight at once, over all batches: one big batch must not flood the nodes.
WRITES_IN_FLIGHT = 32


async def _in_parallel(count: int, run_one: Callable[[int], Awaitable[None]],
                       parallelism: int) -> None:
    """run_one(0) .. run_one(count - 1), at most `parallelism` at a time."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)

    async def worker() -> None:
        while not queue.empty():
            await run_one(queue.get_nowait())

    await asyncio.gather(*(worker() for _ in range(max(1, parallelism))))


async def recount_views(counts: ViewCountRepository, parallelism: int = 8,
                        splits: int = DEFAULT_SPLITS,
                        on_progress: Callable[[Progress], None] | None = None,
                        progress_stream=None) -> dict:
    """Make every counter equal its video's plays in history; returns the summary.
    Corrections that time out are counted as `unsure`: run the job again."""
    ranges = token_splits(splits)
    # Three passes of `splits` steps (history, counters, corrections), so the total is
    # known up front. Items: history rows, then counter rows, then videos checked.
    progress = Progress("recount", 3 * splits, item_name="rows",
                        **({"stream": progress_stream} if progress_stream else {}))
    started = time.monotonic()

    def step(items: int) -> None:
        progress.advance(steps=1, items=items)
        if on_progress:
            on_progress(progress)

    exact: dict[uuid.UUID, int] = {}

    async def sum_plays(index: int) -> None:
        start, end = ranges[index]
        plays = await retry_transient(lambda: counts.plays_in_token_range(start, end))
        step(add_plays(exact, plays))

    await _in_parallel(len(ranges), sum_plays, parallelism)
    views_in_history = sum(exact.values())
    log.info("recount: %d views of %d videos in history", views_in_history, len(exact))

    without_history: list[uuid.UUID] = []

    async def find_without_history(index: int) -> None:
        start, end = ranges[index]
        counters = await retry_transient(lambda: counts.counters_in_token_range(start, end))
        for video_id, views in counters:
            if views and video_id not in exact:
                without_history.append(video_id)
        step(len(counters))

    await _in_parallel(len(ranges), find_without_history, parallelism)
    exact.update(dict.fromkeys(without_history, 0))
    log.info("recount: %d counters of videos with no views in history", len(without_history))

    videos = sorted(exact)
    batches = [videos[i * len(videos) // splits:(i + 1) * len(videos) // splits]
               for i in range(splits)]
    applied: list[int] = []
    unsure: list[uuid.UUID] = []
    writes = asyncio.Semaphore(WRITES_IN_FLIGHT)

    async def correct(video_id: uuid.UUID, delta: int) -> None:
        async with writes:
            try:
                await counts.add(video_id, delta)
            except StoreUnavailable as error:  # applied or not: only a re-read can tell
                unsure.append(video_id)
                log.warning("recount: video %s: correction %+d timed out (%s)",
                            video_id, delta, error)
                return
        applied.append(delta)
        log.debug("recount: video %s corrected by %+d", video_id, delta)

    async def correct_batch(index: int) -> None:
        batch = batches[index]
        # Read again just before writing: narrows the race with views in flight.
        current = await retry_transient(lambda: counts.totals(batch)) if batch else {}
        deltas = corrections({video_id: exact[video_id] for video_id in batch}, current)
        await asyncio.gather(*(correct(video_id, delta) for video_id, delta in deltas.items()))
        step(len(batch))

    await _in_parallel(len(batches), correct_batch, parallelism)
    summary = {"videosChecked": len(videos), "videosCorrected": len(applied),
               "totalDelta": sum(applied), "viewsInHistory": views_in_history,
               "withoutHistory": len(without_history), "unsure": len(unsure),
               "seconds": round(time.monotonic() - started, 2)}
    log.info("recount: %(videosChecked)d videos checked, %(videosCorrected)d corrected "
             "(total delta %(totalDelta)+d), %(unsure)d unsure, in %(seconds).1fs", summary)
    if unsure:
        log.warning("recount: %d corrections timed out and may or may not have applied; "
                    "run the recount again", len(unsure))
    return summary


def recount_from_cli(settings, parallelism: int = 8) -> int:
    """`make recount`: one run as a leased job (jobs/leased.py), printed summary. Not
    resumable, and need not be: every correction is computed from a fresh read, so an
    interrupted run leaves correct counters behind and the next run finishes the rest."""
    from killrvideo_reco.jobs.leased import run_from_cli

    def work_for(resources):
        async def work(on_progress, cursor):
            return await recount_views(resources.view_counts, parallelism=parallelism,
                                       on_progress=on_progress)
        return work

    code, job = run_from_cli(settings, "recount", work_for, resumable=False,
                             after_interrupt="counters corrected so far stay correct; run it again")
    if code != 0 or job is None or job.result is None:
        return code
    s = job.result
    print(f"recount: {s['videosChecked']} videos checked, {s['videosCorrected']} corrected "
          f"(total delta {s['totalDelta']:+d}; {s['withoutHistory']} with no views in "
          f"history), {s['viewsInHistory']} views in history, in {s['seconds']}s "
          f"(job {job.job_id})")
    if s["unsure"]:
        print(f"recount: {s['unsure']} corrections timed out and may or may not have "
              "applied: run `make recount` again", file=sys.stderr)
        return 1
    return 0
