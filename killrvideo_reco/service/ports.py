"""What the services, jobs and evaluation need from storage: every store method they call
is here. The Cassandra stores in store/ implement these; unit tests pass in-memory fakes
(tests/fakes/), and tests/contract/ runs one set of tests against both. A store that is
busy or away raises domain.errors.StoreUnavailable, never a driver error."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Protocol

import numpy as np

from killrvideo_reco.domain.experiments import Experiment
from killrvideo_reco.domain.impressions import Impression, ImpressionRow, ShownRow
from killrvideo_reco.domain.jobs import Job, JobLease
from killrvideo_reco.domain.models import (
    BehaviourRun,
    Candidate,
    HistoryRow,
    NeighbourList,
    NewVideo,
    PopularPool,
    ProfileReferences,
    ProfileStamp,
    RunRecord,
    StoredProfile,
    TasteChange,
    TasteRecord,
    VideoDetails,
    VideoFacts,
    VideoSummary,
)
from killrvideo_reco.domain.ranking import FeedCandidate
from killrvideo_reco.domain.taste_profile import ChannelSum
from killrvideo_reco.domain.view_counts import ViewCount
from killrvideo_reco.domain.viewer_nearest import ViewerNearest

# A viewer's behaviour vector for the read model: (slot, run id, vector or None).
BehaviourWrite = tuple[str, str, "np.ndarray | None"]


class VideoRepository(Protocol):
    async def add(self, video: NewVideo) -> None: ...
    async def details(self, video_id: uuid.UUID) -> VideoDetails | None: ...
    async def facts(self, video_id: uuid.UUID) -> VideoFacts | None: ...
    async def facts_many(self, video_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, VideoFacts]: ...
    async def summaries(self, video_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, VideoSummary]: ...
    async def vectors(self, video_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, np.ndarray]: ...
    async def nearest(self, query: np.ndarray, limit: int) -> list[Candidate]: ...
    async def latest_ids(self, limit: int) -> list[uuid.UUID]: ...
    async def any_summaries(self, limit: int) -> list[VideoSummary]: ...
    async def catalogue_model(self) -> str | None: ...
    async def set_catalogue_model(self, model_id: str) -> None: ...
    async def set_vector(self, video_id: uuid.UUID, vector: np.ndarray, model_id: str) -> None: ...
    async def scan_details(self) -> list[VideoDetails]: ...
    async def count(self) -> int:
        """Videos in the catalogue (a scan: cache it)."""


class ViewerRepository(Protocol):
    async def seen_among(self, user_id: uuid.UUID,
                         video_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]: ...
    async def history(self, user_id: uuid.UUID, for_update: bool = False) -> list[HistoryRow]: ...
    async def taste_state(self, user_id: uuid.UUID, for_update: bool = False) -> TasteRecord:
        """The taste state's head (no channel cells)."""
    async def read_for_change(self, user_id: uuid.UUID, video_ids: Sequence[uuid.UUID],
                              channels: Sequence[str]
                              ) -> tuple[TasteRecord, dict[uuid.UUID, HistoryRow]]:
        """What a change needs, read for update: the head with the stored cells of
        `channels` attached (those that exist), then these videos' history rows."""
    async def rows_for_change(self, user_id: uuid.UUID, video_ids: Sequence[uuid.UUID],
                              channels: Sequence[str], dimension: int
                              ) -> tuple[dict[uuid.UUID, HistoryRow], dict[str, ChannelSum]]:
        """What a change needs when the caller holds the current state (its version read
        earlier): these videos' history rows and these channels' stored cells, for
        update, in one read."""
    async def commit(self, change: TasteChange) -> bool: ...
    async def write_profile(self, user_id: uuid.UUID, vector: np.ndarray | None,
                            model_id: str | None, item_count: int,
                            references: ProfileReferences, version: int,
                            behaviour: BehaviourWrite | None = None) -> None:
        """The read model, newest version wins; recent likes and interests by reference."""
    async def profile(self, user_id: uuid.UUID) -> StoredProfile | None: ...
    async def profile_stamp(self, user_id: uuid.UUID) -> ProfileStamp | None:
        """The read model's version and positives alone (no vectors)."""
    async def write_nearest(self, user_id: uuid.UUID, nearest: ViewerNearest,
                            version: int) -> None:
        """Kept with the read model of `version` (its write time): a newer profile keeps
        it, "forget me" deletes it."""
    async def count_view(self, video_id: uuid.UUID, day: date, new_viewer_today: bool) -> None:
        """Every view adds 1 to the video's total; only a viewer's first view of it on
        `day` adds to the day's count (trending counts distinct viewers)."""
    async def count_views(self, counts: Sequence[ViewCount]) -> None:
        """Several views' counts in one round trip, each as count_view would."""
    async def views_on(self, day: date) -> list[tuple[uuid.UUID, int]]: ...
    async def total_views(self, video_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]: ...
    async def users_in_token_range(self, start: int, end: int) -> list[uuid.UUID]: ...
    async def history_in_token_range(self, start: int, end: int
                                     ) -> list[tuple[uuid.UUID, HistoryRow]]: ...
    async def forget(self, user_id: uuid.UUID, at_us: int) -> None: ...
    async def write_behaviour_many(self, slot: str, run_id: str,
                                   vectors: Sequence[tuple[uuid.UUID, np.ndarray | None]],
                                   version: int) -> None: ...
    async def import_watches(self, user_id_rows: Sequence[tuple[uuid.UUID, HistoryRow]],
                             on_done: Callable[[int], None] | None = None) -> int: ...


class BehaviourRepository(Protocol):
    """The behaviour space as the feed reads it, and the write of one new video."""
    async def nearest(self, run: BehaviourRun, space: str, behaviour_query: np.ndarray | None,
                      content_query: np.ndarray | None, limit: int,
                      ann_query: np.ndarray | None = None) -> list[FeedCandidate]: ...
    async def nearest_ids(self, run: BehaviourRun, space: str, query: np.ndarray,
                          limit: int) -> list[uuid.UUID]:
        """The ANN order alone, for callers that hold the videos' features."""
    async def popular_pool(self, run: BehaviourRun,
                           video_ids: Sequence[uuid.UUID]) -> PopularPool: ...
    async def write_video(self, slot: str, run_id: str, video_id: uuid.UUID,
                          vector: np.ndarray, popularity: float = 0.0) -> None: ...
    async def active_run(self) -> BehaviourRun | None: ...


class NeighbourRepository(Protocol):
    """Per-video neighbour lists by space, read by key and written whole."""
    async def neighbour_lists(self, video_ids: Sequence[uuid.UUID],
                              space: str) -> dict[uuid.UUID, NeighbourList]: ...
    async def write_neighbours(self, video_id: uuid.UUID, space: str,
                               neighbours: NeighbourList) -> None: ...
    async def write_neighbour_lists(
            self, space: str, lists: Sequence[tuple[uuid.UUID, NeighbourList]]) -> None:
        """Many lists of one space at once (training): a bulk write."""


class TrainingRepository(Protocol):
    """What the training job reads and writes: content vectors in, a run's vectors and
    record out, then the one-cell switch."""
    async def active_run(self) -> BehaviourRun | None: ...
    async def run(self, run_id: str) -> BehaviourRun | None: ...
    async def list_runs(self, limit: int) -> list[RunRecord]:
        """Up to `limit` runs of any status (training, complete, active, retired), newest
        first, with their hold-out quality (the operator console)."""
    async def content_vectors(self) -> tuple[list[uuid.UUID], np.ndarray | None]: ...
    async def write_videos(self, slot: str, run_id: str,
                           rows: Sequence[tuple[uuid.UUID, np.ndarray, float]]) -> None: ...
    async def save_run(self, run: BehaviourRun, status: str, started_at: datetime,
                       quality_json: str | None) -> None: ...
    async def activate(self, run_id: str, previous: str | None) -> None: ...


class MetadataRepository(Protocol):
    async def get(self, name: str) -> str | None: ...
    async def set(self, name: str, value: str) -> None: ...
    async def schema_version(self) -> int | None: ...


class JobRepository(Protocol):
    """Job records and per-kind leases (store/jobs.py). Status changes and lease writes are
    conditional: they report whether they applied."""
    async def get(self, job_id: uuid.UUID) -> Job | None: ...
    async def create(self, job: Job) -> None: ...
    async def save_progress(self, job: Job) -> None: ...
    async def finish(self, job: Job) -> bool: ...
    async def mark_interrupted(self, job_id: uuid.UUID, why: str) -> bool: ...
    async def latest(self, kind: str) -> uuid.UUID | None: ...
    async def set_latest(self, kind: str, job_id: uuid.UUID) -> None: ...
    async def claim_lease(self, lease: JobLease, ttl_s: int) -> JobLease | None: ...
    async def renew_lease(self, lease: JobLease, ttl_s: int) -> bool: ...
    async def release_lease(self, lease: JobLease) -> bool: ...
    async def lease(self, kind: str) -> JobLease | None: ...


class ActiveRun(Protocol):
    """The live training run, read through a short cache."""
    async def get(self) -> BehaviourRun | None: ...


class _NoRun:
    async def get(self) -> BehaviourRun | None:
        return None


NO_RUN: ActiveRun = _NoRun()


class ViewCountRepository(Protocol):
    """What the recount job reads and writes (jobs/recount.py): play counts from the
    histories, the all-time view counters, and a correction to one counter."""
    async def plays_in_token_range(self, start: int, end: int
                                   ) -> list[tuple[uuid.UUID, int]]: ...
    async def counters_in_token_range(self, start: int, end: int
                                      ) -> list[tuple[uuid.UUID, int]]: ...
    async def totals(self, video_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]: ...
    async def add(self, video_id: uuid.UUID, delta: int) -> None:
        """Counter increment: not idempotent, so never re-sent after a timeout."""


class ImpressionRepository(Protocol):
    """Impressions (store/impressions.py) and the daily recommendation counters."""
    async def record(self, impression: Impression, ttl_s: int, bucket: int) -> None:
        """The page's rows, and its videos' rows in the viewer's `bucket` of the day."""
    async def showing(self, user_id: uuid.UUID, video_id: uuid.UUID, days: Sequence[date],
                      bucket: int, since: datetime, until: datetime) -> list[ImpressionRow]:
        """The viewer's impression rows of `video_id` served between since and until (the
        `days` partitions cover them), found by key through the viewer's `bucket` of
        each day, in no particular order."""
    async def newest_shown(self, user_id: uuid.UUID, days: Sequence[date], since: datetime,
                           until: datetime, pages: int) -> list[ShownRow]:
        """The items of the viewer's newest `pages` pages served between since and until
        (the `days` partitions cover them), newest page first, each page's items in
        order: which page showed which video. Reads up to `pages` rows of each day."""
    async def item_pages_in_token_range(self, start: int, end: int
                                        ) -> list[tuple[Impression, int]]:
        """The pages still stored as item rows (written before one row a page), whose
        partition token is in (start, end], each with the seconds it has left to live."""
    async def forget(self, user_id: uuid.UUID, days: Sequence[date], bucket: int) -> int:
        """"Forget me": delete the viewer's pages of these days (every layout) and their
        rows in the viewer's `bucket` of the reach table; how many (day, video) rows went.
        Idempotent."""
    async def record_page(self, impression: Impression, ttl_s: int) -> None:
        """The page's own row alone, as `record` writes it (idempotent)."""
    async def add_daily(self, day: date, source: str, variant: str,
                        increments: Mapping[str, int]) -> None:
        """Counter increments: not idempotent, so never re-sent after a failure."""
    async def daily(self, days: Sequence[date]) -> list[tuple[date, str, str, str, int]]:
        """(day, source, variant, metric, value) of every counter of these days."""
    async def videos_shown(self, day: date, buckets: int) -> list[uuid.UUID]:
        """The videos shown that day, once per bucket (of `buckets`) that saw them."""
    async def video_days(self, video_id: uuid.UUID, days: Sequence[date],
                         buckets: int) -> list[tuple[date, int, int]]:
        """(day, impressions, distinct viewers) partial sums of the video, per bucket."""


class ExperimentRepository(Protocol):
    """Experiments and the counters their results are read from (store/experiments.py)."""
    async def save(self, experiment: Experiment) -> None: ...
    async def all(self) -> list[Experiment]: ...
    async def get(self, experiment_id: uuid.UUID) -> Experiment | None: ...
    async def add_viewer(self, experiment_id: uuid.UUID, variant: str, user_id: uuid.UUID,
                         impressions: int, clicks: int, watch_seconds: int) -> None: ...
    async def viewers(self, experiment_id: uuid.UUID
                      ) -> list[tuple[str, uuid.UUID, int, int, int]]: ...
    async def add_requests(self, experiment_id: uuid.UUID, variant: str,
                           increments: Mapping[str, int]) -> None: ...
    async def requests(self, experiment_id: uuid.UUID) -> dict[str, dict[str, int]]: ...
