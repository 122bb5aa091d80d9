"""A/B experiments on the feed (issue 22): moderators create, start and stop them; each
running one assigns every viewer a variant by hash (domain/experiments.py), and the feed
is served with that variant's overrides and recorded under its name.

Several experiments may run at once if no two override the same setting: a viewer is in
a variant of each, served with their overrides merged; impressions record the oldest
one's variant, and each experiment's per-viewer counters are kept apart.
"""
from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from cachetools import LRUCache
from pydantic import ValidationError

from killrvideo_reco.domain import experiment_results
from killrvideo_reco.domain.experiments import (
    OVERRIDABLE,
    Experiment,
    InvalidExperiment,
    Variant,
    check_shape,
)
from killrvideo_reco.domain.models import FeedPage
from killrvideo_reco.service.feed import FeedService
from killrvideo_reco.service.impressions import DEFAULT_VARIANT, ImpressionLog
from killrvideo_reco.service.ports import ActiveRun, ExperimentRepository, TrainingRepository
from killrvideo_reco.service.ttl_cache import CachedValue
from killrvideo_reco.settings import Settings

# Builds the feed a set of overrides serves: (settings, run to serve or None, popularity).
FeedFactory = Callable[[Settings, ActiveRun | None, bool], FeedService]


class UnknownExperiment(LookupError):
    pass


class ExperimentConflict(RuntimeError):
    """Not now: names the field at fault, like InvalidExperiment."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class Assignment:
    """A viewer's variants in the running experiments, oldest experiment first."""
    pairs: tuple[tuple[Experiment, Variant], ...] = ()

    @property
    def variant(self) -> str:
        return self.pairs[0][1].name if self.pairs else DEFAULT_VARIANT

    @property
    def experiment_id(self) -> uuid.UUID | None:
        return self.pairs[0][0].experiment_id if self.pairs else None

    @property
    def key(self) -> tuple:
        return tuple((e.experiment_id, v.name) for e, v in self.pairs)


class _PinnedRun:
    """A variant's training run instead of the live one, read through the same cache."""

    def __init__(self, training: TrainingRepository, run_id: str, ttl_s: float):
        self._cached = CachedValue(lambda: training.run(run_id), ttl_s)

    async def get(self):
        return await self._cached.get()


class ExperimentService:
    def __init__(self, store: ExperimentRepository | None, training: TrainingRepository | None,
                 settings: Settings, impressions: ImpressionLog, default_feed: FeedService,
                 build_feed: FeedFactory):
        self.store, self.training, self.settings = store, training, settings
        self.impressions, self.default_feed, self._build_feed = impressions, default_feed, build_feed
        self._running = CachedValue(self._load_running, settings.feed_cache_ttl_s)
        self._feeds: LRUCache[tuple, FeedService] = LRUCache(maxsize=32)

    async def _load_running(self) -> list[Experiment]:
        if self.store is None:
            return []
        found = [e for e in await self.store.all() if e.status == "running"]
        return sorted(found, key=lambda e: e.started_at or e.created_at)

    # --- moderators ---
    async def create(self, name: str, variants: list[Variant]) -> Experiment:
        check_shape(variants)
        for n, v in enumerate(variants):
            self._check_values(n, v)
            if v.training_run is not None and (
                    self.training is None or await self.training.run(v.training_run) is None):
                raise InvalidExperiment(f"variants.{n}.overrides.trainingRun",
                                        f"no complete training run {v.training_run!r}")
        experiment = Experiment(uuid.uuid1(), name, secrets.token_hex(8), tuple(variants),
                                "draft", datetime.now(timezone.utc))
        await self._store().save(experiment)
        return experiment

    def _check_values(self, n: int, v: Variant) -> None:
        update = v.settings_update()
        try:
            Settings(**{**self.settings.model_dump(), **update})
        except ValidationError as error:
            names = {field: api for api, field in OVERRIDABLE.items()}
            bad = str(error.errors()[0]["loc"][0]) if error.errors() else ""
            raise InvalidExperiment(f"variants.{n}.overrides.{names.get(bad, bad)}",
                                    error.errors()[0]["msg"]) from error

    async def start(self, experiment_id: uuid.UUID) -> Experiment:
        experiment = await self.get(experiment_id)
        if experiment.status != "draft":
            raise ExperimentConflict("status", f"experiment is {experiment.status}; only a "
                                               "draft can start")
        for other in await self._load_running():
            shared = experiment.overridden() & other.overridden()
            if shared:
                raise ExperimentConflict(
                    "variants.overrides." + sorted(shared)[0],
                    f"experiment {other.experiment_id} ({other.name}) is running on "
                    f"{sorted(shared)}; stop it first")
        started = replace(experiment, status="running", started_at=datetime.now(timezone.utc))
        await self._store().save(started)
        self._running.invalidate()
        return started

    async def stop(self, experiment_id: uuid.UUID) -> Experiment:
        experiment = await self.get(experiment_id)
        if experiment.status != "running":
            raise ExperimentConflict("status", f"experiment is {experiment.status}, not running")
        stopped = replace(experiment, status="stopped", stopped_at=datetime.now(timezone.utc))
        await self._store().save(stopped)
        self._running.invalidate()
        return stopped

    async def get(self, experiment_id: uuid.UUID) -> Experiment:
        # Experiment ids are time UUIDs: any other version names none (and CQL refuses it).
        found = await self._store().get(experiment_id) if experiment_id.version == 1 else None
        if found is None:
            raise UnknownExperiment(f"no experiment {experiment_id}")
        return found

    async def list(self) -> list[Experiment]:
        return await self._store().all() if self.store is not None else []

    async def results(self, experiment_id: uuid.UUID) -> experiment_results.Results:
        experiment = await self.get(experiment_id)
        store = self._store()
        return experiment_results.results(experiment, await store.viewers(experiment_id),
                                          await store.requests(experiment_id))

    def _store(self) -> ExperimentRepository:
        if self.store is None:
            raise UnknownExperiment("experiments need the Cassandra store")
        return self.store

    # --- serving ---
    async def assignment(self, user_id: uuid.UUID) -> Assignment:
        return Assignment(tuple((e, e.assign(user_id)) for e in await self._running.get()))

    def feed_for(self, assigned: Assignment) -> FeedService:
        if not assigned.pairs:
            return self.default_feed
        feed = self._feeds.get(assigned.key)
        if feed is None:
            update: dict = {}
            run: ActiveRun | None = None
            popularity = False
            for _, v in assigned.pairs:
                update.update(v.settings_update())
                popularity = popularity or v.popularity
                if v.training_run and self.training is not None:
                    run = _PinnedRun(self.training, v.training_run, self.settings.feed_cache_ttl_s)
            feed = self._build_feed(self.settings.model_copy(update=update), run, popularity)
            self._feeds[assigned.key] = feed
        return feed

    async def for_you(self, user_id: uuid.UUID, page: int,
                      page_size: int) -> tuple[FeedPage, uuid.UUID]:
        """The viewer's page from their variants' feed, recorded as an impression."""
        assigned = await self.assignment(user_id)
        started = time.perf_counter()
        failed = True
        try:
            found = await self.feed_for(assigned).for_you(user_id, page, page_size)
            failed = False
        finally:
            self._count_request(assigned, time.perf_counter() - started, failed)
        shown = [i.summary.video_id for i in found.items]
        recommendation_id = self.impressions.served(
            user_id, found.source, shown, (page - 1) * page_size + 1, assigned.variant,
            assigned.experiment_id, found.positives)
        for e, v in assigned.pairs:
            if shown and self.store is not None:
                self._submit_viewer(e, v, user_id, len(shown), 0, 0)
        return found, recommendation_id

    async def count_click(self, user_id: uuid.UUID, seconds: float) -> None:
        """An attributed view: a click in each running experiment the viewer is in."""
        for e, v in (await self.assignment(user_id)).pairs:
            self._submit_viewer(e, v, user_id, 0, 1, round(seconds))

    def _submit_viewer(self, e: Experiment, v: Variant, user_id: uuid.UUID,
                       impressions: int, clicks: int, seconds: int) -> None:
        store = self._store()
        self.impressions.submit("experiment", lambda: store.add_viewer(
            e.experiment_id, v.name, user_id, impressions, clicks, seconds))

    def _count_request(self, assigned: Assignment, elapsed_s: float, failed: bool) -> None:
        if not assigned.pairs or self.store is None:
            return
        ms = elapsed_s * 1000
        bucket = next((b for b in experiment_results.LATENCY_BUCKETS_MS if ms <= b), None)
        increments = {"requests": 1, "errors": int(failed)}
        if bucket is not None:
            increments[f"le_{bucket}"] = 1
        store = self.store
        counted = {k: n for k, n in increments.items() if n}
        for e, v in assigned.pairs:
            def write(experiment_id: uuid.UUID = e.experiment_id, name: str = v.name):
                return store.add_requests(experiment_id, name, counted)
            self.impressions.submit("experiment", write)
