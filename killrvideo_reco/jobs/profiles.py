"""Batch rebuild of every viewer's taste profile from history.

Scans viewer_history by token ranges (so the same code spreads over a multi-node
cluster), rebuilds each viewer found with the same code the online path uses, and
checkpoints finished ranges so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from killrvideo_reco.jobs.progress import Progress
from killrvideo_reco.service.activity import ActivityService
from killrvideo_reco.service.ports import VideoRepository, ViewerRepository

log = logging.getLogger(__name__)
MIN_TOKEN, MAX_TOKEN = -(2 ** 63), 2 ** 63 - 1
DEFAULT_SPLITS = 256
# Each viewer is a few round trips (one a Paxos round): keep many in flight.
USERS_IN_FLIGHT_PER_WORKER = 4


def token_splits(count: int) -> list[tuple[int, int]]:
    """(start, end] ranges covering the Murmur3 ring. Murmur3 never gives a key the
    minimum token (it is normalised to the maximum), so (MIN, MAX] misses nothing."""
    width = (MAX_TOKEN - MIN_TOKEN) // count
    bounds = [MIN_TOKEN + i * width for i in range(count)] + [MAX_TOKEN]
    return list(zip(bounds[:-1], bounds[1:]))


class Checkpoint:
    """Finished split indexes for one job configuration: on disk (`make profiles`), or as
    the cursor of an interrupted HTTP job (`saved`). One saved for another configuration
    (split count or catalogue model) is ignored: the run starts from scratch."""

    def __init__(self, path: Path | None, key: str, saved: dict | None = None):
        self.path, self.key = path, key
        self.done: set[int] = set()
        if saved is None and path and path.exists():
            saved = json.loads(path.read_text())
        if saved and saved.get("key") == key:
            self.done = set(saved.get("done", []))

    def cursor(self) -> dict:
        return {"key": self.key, "done": sorted(self.done)}

    def mark(self, index: int) -> None:
        self.done.add(index)
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.cursor()))

    def clear(self) -> None:
        if self.path:
            self.path.unlink(missing_ok=True)


async def rebuild_profiles(videos: VideoRepository, viewers: ViewerRepository,
                           activity: ActivityService, parallelism: int = 8,
                           splits: int = DEFAULT_SPLITS, checkpoint_path: Path | None = None,
                           on_progress: Callable[[Progress], None] | None = None,
                           progress_stream=None, facts_cache: dict | None = None,
                           resume_from: dict | None = None) -> dict:
    """Rebuild every viewer found in viewer_history. `facts_cache` (video id -> facts)
    may be pre-filled by a caller that already read the catalogue. `resume_from` is an
    interrupted job's cursor (progress.cursor): its finished ranges are skipped."""
    model_id = await videos.catalogue_model()
    checkpoint = Checkpoint(checkpoint_path, f"{splits}:{model_id}", resume_from)
    resumed = len(checkpoint.done)
    ranges = token_splits(splits)
    todo = [i for i in range(len(ranges)) if i not in checkpoint.done]
    if checkpoint.done:
        log.info("resuming: %d of %d token ranges already done", len(checkpoint.done), len(ranges))
    progress = Progress("profiles", len(ranges), done=len(checkpoint.done), item_name="users",
                        cursor=checkpoint.cursor(),
                        **({"stream": progress_stream} if progress_stream else {}))
    facts_cache = {} if facts_cache is None else facts_cache
    counts = {"users": 0, "with_profile": 0}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in todo:
        queue.put_nowait(index)

    in_flight = asyncio.Semaphore(max(1, parallelism) * USERS_IN_FLIGHT_PER_WORKER)

    async def rebuild_one(user_id) -> None:
        async with in_flight:
            if await activity.rebuild(user_id, model_id, facts_cache):
                counts["with_profile"] += 1

    async def worker() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            start, end = ranges[index]
            users = await viewers.users_in_token_range(start, end)
            await asyncio.gather(*(rebuild_one(user_id) for user_id in users))
            counts["users"] += len(users)
            checkpoint.mark(index)
            progress.cursor = checkpoint.cursor()
            progress.advance(steps=1, items=len(users))
            if on_progress:
                on_progress(progress)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(max(1, parallelism))))
    checkpoint.clear()
    elapsed = time.monotonic() - started
    summary = {"users": counts["users"], "withProfile": counts["with_profile"],
               "seconds": round(elapsed, 2),
               "usersPerSecond": round(counts["users"] / elapsed, 1) if elapsed else 0.0,
               "modelId": model_id, "resumedRanges": resumed}
    log.info("rebuilt %(users)d profiles (%(withProfile)d personalised) in %(seconds).1fs: "
             "%(usersPerSecond).0f users/s", summary)
    return summary


def checkpoint_file(keyspace: str) -> Path:
    """`make reembed`'s rebuild (not a leased job) resumes from this file. One per keyspace:
    a checkpoint never carries over to another keyspace."""
    return Path(".cache") / f"profiles-{keyspace}.checkpoint.json"


def rebuild_all_profiles(settings, parallelism: int = 8) -> int:
    """`make profiles`: rebuild every profile as a leased job (jobs/leased.py); an
    interrupted run, from here or over HTTP, is continued from its saved cursor."""
    from killrvideo_reco.jobs.leased import run_from_cli

    def work_for(resources):
        async def work(on_progress, cursor):
            return await rebuild_profiles(resources.videos, resources.viewers,
                                          resources.activity, parallelism=parallelism,
                                          on_progress=on_progress, resume_from=cursor)
        return work

    code, job = run_from_cli(settings, "profiles", work_for, resumable=True,
                             after_interrupt="the next run continues where this one stopped")
    if code == 0 and job is not None and job.result is not None:
        summary = job.result
        print(f"profiles: {summary['users']} viewers rebuilt ({summary['withProfile']} "
              f"personalised) in {summary['seconds']}s = {summary['usersPerSecond']} users/s "
              f"(model {summary['modelId']}, job {job.job_id}"
              + (f", {summary['resumedRanges']} ranges done before" if job.resumed_from else "")
              + ")")
    return code
