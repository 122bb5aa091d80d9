"""Writes the MovieLens catalogue and the training watches into a keyspace.

Movies go through VideoStore.add (as uploads do); watches are written straight into
viewer_history rows, as tests/integration/seeding.py does: replaying ~90k playback
events through the conditional-batch write path would only be slower, and the profile
rebuild reads nothing else. At most WRITE_CONCURRENCY writes are in flight, since
Cassandra's vector index rejects writes under many concurrent writers.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timezone
from functools import partial

import numpy as np
from cassandra import OperationTimedOut, ReadTimeout, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable, Session
from cassandra.concurrent import execute_concurrent_with_args

from killrvideo_reco.evaluation.data import DURATION_S, Movie, UserSplit, genres_text, watch_for_rating
from killrvideo_reco.jobs.progress import Progress
from killrvideo_reco.service.activity import ActivityService
from killrvideo_reco.store.videos import NewVideo, VideoStore

log = logging.getLogger(__name__)
TRANSIENT = (OperationTimedOut, ReadTimeout, WriteTimeout, Unavailable, NoHostAvailable)
WRITE_CONCURRENCY = 16
READ_CONCURRENCY = 32
REBUILD_CONCURRENCY = 8  # viewers rebuilt at once
NAMESPACE = uuid.UUID("3b0f6a52-6d1c-4a8e-9a0e-6d6f7669656c")


def video_uuid(movie_id: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"movie:{movie_id}")


def user_uuid(user_id: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"user:{user_id}")


def utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=timezone.utc)


async def retrying(make: Callable[[], Awaitable], attempts: int = 5):
    """Await make() again after a timeout: a shared dev node under load times out now
    and then, and every job here (inserts, rebuilds, reads) is safe to repeat."""
    for attempt in range(attempts):
        try:
            return await make()
        except TRANSIENT as error:
            if attempt == attempts - 1:
                raise
            log.warning("retrying after %s", type(error).__name__)
            await asyncio.sleep(0.5 * 2 ** attempt)


async def bounded(jobs: Iterable[Callable[[], Awaitable]], limit: int,
                  progress: Progress | None = None) -> list:
    """Run job factories with at most `limit` in flight, results in order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(make):
        async with semaphore:
            result = await retrying(make)
        if progress:
            progress.advance(steps=1, items=1)
        return result

    return await asyncio.gather(*(one(j) for j in jobs))


async def load_catalogue(videos: VideoStore, movies: list[Movie], vectors: np.ndarray,
                         model_id: str, added: dict[int, int]) -> None:
    fallback_added = min(added.values(), default=0)

    def new_video(movie: Movie, vector: np.ndarray) -> NewVideo:
        # No uploader: every movie is its own channel, so channel saturation never applies.
        return NewVideo(video_uuid(movie.movie_id), None, movie.title, genres_text(movie),
                        movie.tags, None, utc(added.get(movie.movie_id, fallback_added)),
                        movie.genres[0] if movie.genres else None, DURATION_S, vector, model_id)

    progress = Progress("movies", len(movies), item_name="movies")
    await bounded((partial(videos.add, new_video(m, v)) for m, v in zip(movies, vectors)),
                  WRITE_CONCURRENCY, progress)
    await videos.set_catalogue_model(model_id)


def history_rows(users: list[UserSplit]) -> list[tuple]:
    """viewer_history rows (userid, videoid, first, last, plays, seconds, duration)."""
    rows = []
    for user in users:
        uid = user_uuid(user.user_id)
        for r in user.train:
            done, plays = watch_for_rating(r.rating)
            at = utc(r.at)
            rows.append((uid, video_uuid(r.movie_id), at, at, plays, done * DURATION_S,
                         float(DURATION_S)))
    return rows


def write_history(session: Session, keyspace: str, users: list[UserSplit]) -> int:
    statement = session.prepare(
        f"INSERT INTO {keyspace}.viewer_history (userid, videoid, first_watched, last_watched, "
        "play_count, seconds_watched, duration_s) VALUES (?, ?, ?, ?, ?, ?, ?)")
    rows = history_rows(users)
    progress = Progress("watches", len(rows), item_name="watches")
    for start in range(0, len(rows), 5000):
        todo = rows[start:start + 5000]
        for attempt in range(5):  # re-send only the rows that timed out
            results = execute_concurrent_with_args(session, statement, todo,
                                                   concurrency=WRITE_CONCURRENCY,
                                                   raise_on_first_error=False)
            failed = [(row, r) for row, (ok, r) in zip(todo, results) if not ok]
            if not failed:
                break
            if attempt == 4 or not isinstance(failed[0][1], TRANSIENT):
                raise failed[0][1]
            log.warning("retrying %d watches after %s", len(failed), type(failed[0][1]).__name__)
            time.sleep(0.5 * 2 ** attempt)
            todo = [row for row, _ in failed]
        progress.advance(steps=min(5000, len(rows) - start), items=min(5000, len(rows) - start))
    return len(rows)

async def read_facts(videos: VideoStore, users: list[UserSplit]) -> dict:
    """VideoStore.facts of every watched movie, read once and shared by all rebuilds
    (as jobs.profiles does): each rebuild then only reads the viewer's history."""
    ids = sorted({video_uuid(r.movie_id) for u in users for r in u.train})
    facts = await bounded((partial(videos.facts, v) for v in ids), READ_CONCURRENCY)
    return dict(zip(ids, facts))


async def rebuild_profiles(activity: ActivityService, users: list[UserSplit], model_id: str,
                           facts_cache: dict) -> dict:
    """ActivityService.rebuild for each viewer, with bounded concurrency.

    Not jobs.profiles.rebuild_profiles: it fans out one facts read per history row per
    viewer without a bound, which overloads the driver's connection on this data.
    """
    started = time.monotonic()
    progress = Progress("profiles", len(users), item_name="users")
    personalised = await bounded(
        (partial(activity.rebuild, user_uuid(u.user_id), model_id, facts_cache) for u in users),
        REBUILD_CONCURRENCY, progress)
    seconds = time.monotonic() - started
    return {"users": len(users), "withProfile": sum(map(bool, personalised)),
            "seconds": round(seconds, 1), "usersPerSecond": round(len(users) / seconds, 1)}
