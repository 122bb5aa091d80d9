"""`make migrate-impressions`: copy the impressions stored as item rows (cql/0010, one
row an item shown) into one row a page (cql/0015), which is all the service writes and
reads since. Run it once after upgrading; until it has run, the repeat limit and view
attribution do not see pages served before the upgrade.

Each split of the ring is read and its pages written with the seconds their rows have
left, so copies expire with the originals. Idempotent: a page row is keyed by the page,
so an interrupted or repeated run writes the same rows again. The item rows are left to
expire (IMPRESSION_TTL_DAYS)."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import partial

from killrvideo_reco.jobs.profiles import token_splits
from killrvideo_reco.jobs.progress import Progress
from killrvideo_reco.retries import retry_transient
from killrvideo_reco.service.ports import ImpressionRepository

log = logging.getLogger(__name__)
DEFAULT_SPLITS = 64
WRITES_IN_FLIGHT = 32


async def copy_item_rows(store: ImpressionRepository, splits: int = DEFAULT_SPLITS,
                         on_progress: Callable[[Progress], None] | None = None,
                         progress_stream=None) -> dict:
    """Copy every page still stored as item rows; returns the summary."""
    progress = Progress("migrate-impressions", splits, item_name="pages",
                        **({"stream": progress_stream} if progress_stream else {}))
    started = time.monotonic()
    writes = asyncio.Semaphore(WRITES_IN_FLIGHT)
    copied = expired = 0

    async def copy(impression, ttl_s: int) -> None:
        async with writes:
            await retry_transient(lambda: store.record_page(impression, ttl_s))

    for start, end in token_splits(splits):
        pages = await retry_transient(partial(store.item_pages_in_token_range, start, end))
        alive = [(page, ttl) for page, ttl in pages if ttl > 0]
        expired += len(pages) - len(alive)
        await asyncio.gather(*(copy(page, ttl) for page, ttl in alive))
        copied += len(alive)
        progress.advance(steps=1, items=len(alive))
        if on_progress:
            on_progress(progress)
    summary = {"pagesCopied": copied, "pagesWithoutTtl": expired,
               "seconds": round(time.monotonic() - started, 2)}
    log.info("migrate-impressions: %(pagesCopied)d pages copied to one row a page "
             "(%(pagesWithoutTtl)d without a TTL left, skipped) in %(seconds).1fs", summary)
    return summary


def migrate_from_cli(settings) -> int:
    """One run as a leased job, printed summary."""
    from killrvideo_reco.jobs.leased import run_from_cli

    def work_for(resources):
        async def work(on_progress, cursor):
            return await copy_item_rows(resources.impressions.store, on_progress=on_progress)
        return work

    code, job = run_from_cli(settings, "migrate-impressions", work_for, resumable=False,
                             after_interrupt="run it again: pages copied are copied again")
    if code != 0 or job is None or job.result is None:
        return code
    s = job.result
    print(f"migrate-impressions: {s['pagesCopied']} pages copied to one row a page "
          f"({s['pagesWithoutTtl']} without TTL left, skipped) in {s['seconds']}s "
          f"(job {job.job_id})")
    return 0
