"""Writes the MovieLens catalogue and the training watches into a keyspace.

Movies go through VideoStore.add (as uploads do); watches are bulk-imported into
viewer_history rows (ViewerStore.import_watches): replaying ~90k playback events through
the conditional-batch write path would only be slower, and the profile rebuild reads
nothing else. At most WRITE_CONCURRENCY writes are in flight, since Cassandra's vector
index rejects writes under many concurrent writers.
"""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timezone
from functools import partial

import numpy as np

from killrvideo_reco.domain.models import HistoryRow, NewVideo
from killrvideo_reco.evaluation.data import DURATION_S, Movie, UserSplit, genres_text, watch_for_rating
from killrvideo_reco.jobs.progress import Progress
from killrvideo_reco.retries import retry_transient
from killrvideo_reco.service.ports import VideoRepository, ViewerRepository

WRITE_CONCURRENCY = 16
READ_CONCURRENCY = 32
NAMESPACE = uuid.UUID("3b0f6a52-6d1c-4a8e-9a0e-6d6f7669656c")


def video_uuid(movie_id: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"movie:{movie_id}")


def user_uuid(user_id: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"user:{user_id}")


def utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=timezone.utc)


async def bounded(jobs: Iterable[Callable[[], Awaitable]], limit: int,
                  progress: Progress | None = None) -> list:
    """Run job factories with at most `limit` in flight, results in order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(make):
        async with semaphore:
            result = await retry_transient(make)
        if progress:
            progress.advance(steps=1, items=1)
        return result

    return await asyncio.gather(*(one(j) for j in jobs))


async def load_catalogue(videos: VideoRepository, movies: list[Movie], vectors: np.ndarray,
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


def history_rows(users: list[UserSplit]) -> list[tuple[uuid.UUID, HistoryRow]]:
    """(viewer, viewer_history row) for every training watch."""
    rows = []
    for user in users:
        uid = user_uuid(user.user_id)
        for r in user.train:
            done, plays = watch_for_rating(r.rating)
            at = utc(r.at)
            rows.append((uid, HistoryRow(video_uuid(r.movie_id), at, at, plays,
                                         done * DURATION_S, float(DURATION_S))))
    return rows


async def write_history(viewers: ViewerRepository, users: list[UserSplit]) -> int:
    """The training watches as viewer_history rows (a bulk import)."""
    rows = history_rows(users)
    progress = Progress("watches", len(rows), item_name="watches")
    return await viewers.import_watches(
        rows, on_done=lambda n: progress.advance(steps=n, items=n))


async def read_facts(videos: VideoRepository, users: list[UserSplit]) -> dict:
    """VideoStore.facts of every watched movie, read once and shared by all rebuilds
    (as jobs.profiles does): each rebuild then only reads the viewer's history."""
    ids = sorted({video_uuid(r.movie_id) for u in users for r in u.train})
    facts = await bounded((partial(videos.facts, v) for v in ids), READ_CONCURRENCY)
    return dict(zip(ids, facts))
