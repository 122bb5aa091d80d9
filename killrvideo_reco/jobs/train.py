"""`make train`: learn the behaviour space from viewing history and switch the feed to it.

1. Read history through token ranges into compact arrays (training/interactions.py).
2. Fit item vectors, the ranking weights on a hold-out, the content map (training/).
3. Write every video's vector and every viewer's vector into the slot the feed is NOT
   reading, then record the run as complete.
4. Switch: one cell names the live run, so readers see run N or run N+1, never a mix.
   An interrupted job leaves run N serving.
5. Rebuild taste states (profiles job), so each viewer's online sums follow the new run.
6. Keep each viewer's nearest videos in the new run (jobs/viewer_lists.py), so their next
   page 1 needs no ANN query.
"""
from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from killrvideo_reco.bootstrap import Services, profile_params
from killrvideo_reco.domain.behaviour import ContentMap, behaviour_space, matrix_to_bytes, other_slot
from killrvideo_reco.domain.models import BehaviourRun
from killrvideo_reco.domain.ranking import RankerWeights
from killrvideo_reco.jobs.content_lists import keep_content_lists
from killrvideo_reco.jobs.profiles import rebuild_profiles, token_splits
from killrvideo_reco.jobs.progress import Progress
from killrvideo_reco.jobs.viewer_lists import keep_viewer_lists
from killrvideo_reco.settings import Settings
from killrvideo_reco.training.factors import FactorConfig
from killrvideo_reco.training.interactions import History
from killrvideo_reco.training.model import TrainingConfig, train
from killrvideo_reco.training.neighbours import behaviour_neighbours
from killrvideo_reco.training.spark_engine import STEPS as SPARK_FIT_STEPS

log = logging.getLogger(__name__)
HISTORY_SPLITS = 256
STEPS = ("history", "fit", "videos", "viewers", "neighbours", "switch", "profiles",
         "viewer lists", "content lists")


def training_config(settings: Settings) -> TrainingConfig:
    return TrainingConfig(
        factors=FactorConfig(settings.train_model, settings.behaviour_dimension,
                             settings.train_alpha, settings.train_regularization,
                             settings.train_iterations, settings.train_seed,
                             settings.train_als_penalty),
        params=profile_params(settings), holdout_per_viewer=settings.train_holdout_per_viewer,
        min_viewers=settings.train_min_viewers, content_ridge=settings.train_content_map_ridge,
        sizes=settings.candidate_sizes, seed=settings.train_seed)


@dataclass
class Fitted:
    """What either engine leaves for the run's record once its vectors are written."""
    model: str
    bound: float
    ranker: RankerWeights
    content_map: ContentMap
    popular: list[uuid.UUID]
    quality: dict
    video_ids: list[uuid.UUID]
    index: np.ndarray  # (videos, dimension + 1) index vectors, as written
    query_map: np.ndarray | None = None
    trained: np.ndarray | None = None  # (videos,) bool: fitted from history
    # The catalogue's content embeddings the fit read: (their videos, a row per video).
    content: tuple[list[uuid.UUID], np.ndarray] | None = None


async def run_training(resources: Services, settings: Settings,
                       on_progress: Callable[[Progress], None] | None = None,
                       progress_stream=None, exclude: frozenset[uuid.UUID] = frozenset(),
                       rebuild: bool = True) -> dict:
    started_at, clock = datetime.now(timezone.utc), time.monotonic()
    store = resources.training
    if store is None:
        raise ValueError("training needs the behaviour store: wire it with build_resources")
    previous = await store.active_run()
    slot = other_slot(previous.slot) if previous else "a"
    run_id = f"{started_at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    config = training_config(settings)
    spark = settings.train_engine == "spark"
    splits = [] if spark else token_splits(HISTORY_SPLITS)
    # Steps up to the vectors written (session, Spark's, videos, viewers; or history
    # splits, fit, videos, viewers), then the switch and the profile rebuild.
    engine_steps = 1 + len(SPARK_FIT_STEPS) + 2 if spark else len(splits) + 3
    progress = Progress("train", engine_steps + 5, item_name="rows",
                        **({"stream": progress_stream} if progress_stream else {}))

    def step(name: str, items: int = 0) -> None:
        log.info("train %s: %s", run_id, name)
        progress.advance(steps=1, items=items)
        if on_progress:
            on_progress(progress)

    pending = BehaviourRun(run_id, slot, settings.behaviour_dimension, 1.0)
    await store.save_run(pending, "training", started_at, None)
    if spark:
        from killrvideo_reco.jobs.train_spark import fit_on_spark

        fitted = await fit_on_spark(resources, settings, config, slot, run_id, exclude, step)
    else:
        fitted = await _fit_locally(resources, settings, config, splits, slot, run_id,
                                    exclude, step)
    await _write_neighbours(resources, settings, fitted, slot, run_id)
    step("neighbours written")
    run = BehaviourRun(run_id, slot, settings.behaviour_dimension, fitted.bound,
                       fitted.ranker, fitted.content_map.to_bytes(), tuple(fitted.popular),
                       None if fitted.query_map is None else matrix_to_bytes(fitted.query_map))
    # Engine and model ride along so the run's record says what produced it (the console).
    quality = {**fitted.quality, "ranker": fitted.ranker.weights,
               "engine": settings.train_engine, "model": fitted.model}
    await store.save_run(run, "complete", started_at, json.dumps(quality))
    await store.activate(run_id, previous.run_id if previous else None)
    if resources.runs:
        resources.runs.invalidate()
    step("switched")
    profiles = None
    if rebuild:
        profiles = await rebuild_profiles(resources.videos, resources.viewers,
                                          resources.activity, progress_stream=progress_stream)
    step("profiles rebuilt")
    scan = None
    if rebuild and settings.feed_neighbours > 0:
        scan = await keep_viewer_lists(resources.viewers, run, fitted.video_ids, fitted.index,
                                       settings.candidate_sizes, settings.feed_max_ann_limit,
                                       keep_nearest=settings.feed_viewer_nearest)
    step("viewer lists kept")
    content_lists = None
    model_id = await resources.videos.catalogue_model() \
        if scan is not None and resources.neighbours is not None else None
    if scan is not None and resources.neighbours is not None and fitted.content is not None \
            and model_id is not None:
        content_lists = await keep_content_lists(
            resources.neighbours, scan.medoids, *fitted.content, model_id,
            settings.feed_neighbours, settings.feed_neighbours_max_age_h * 3600)
    step("content lists kept")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    seconds = time.monotonic() - clock
    summary = {"runId": run_id, "slot": slot, "previousRunId": previous.run_id if previous else None,
               "engine": settings.train_engine, "model": fitted.model,
               "dimension": settings.behaviour_dimension,
               "seconds": round(seconds, 1), "peakRssMB": round(peak_mb, 1),
               "quality": quality, "profiles": profiles,
               "viewerLists": scan.kept if scan is not None and settings.feed_viewer_nearest
               else None, "contentLists": content_lists}
    log.info("train %s: live after %.1fs (quality %s)", run_id, seconds, quality)
    return summary


async def _write_neighbours(resources: Services, settings: Settings, fitted: Fitted,
                            slot: str, run_id: str) -> None:
    """The run's behaviour neighbour lists, into its slot before the switch."""
    if resources.neighbours is None or settings.feed_neighbours == 0:
        return
    lists = await asyncio.to_thread(behaviour_neighbours, fitted.video_ids, fitted.index,
                                    settings.feed_neighbours, run_id, fitted.trained)
    await resources.neighbours.write_neighbour_lists(behaviour_space(slot), lists)
    log.info("train %s: %d behaviour neighbour lists of up to %d", run_id, len(lists),
             settings.feed_neighbours)


async def _fit_locally(resources: Services, settings: Settings, config: TrainingConfig,
                       splits, slot: str, run_id: str, exclude: frozenset[uuid.UUID],
                       step: Callable[..., None]) -> Fitted:
    """The local engine: history into memory, fit in this process, vectors written."""
    store = resources.training
    assert store is not None
    history = History()
    params = profile_params(settings)
    for start, end in splits:
        rows = await resources.viewers.history_in_token_range(start, end)
        history.add_rows(rows, params)
        step("history", len(rows))
    video_ids, content = await store.content_vectors()
    if content is None:
        raise ValueError("the catalogue has no videos with content vectors: nothing to train")
    model = await asyncio.to_thread(train, history, video_ids, content, config, exclude)
    step(f"fit ({config.factors.model}, {model.trained_videos} videos)")
    await store.write_videos(slot, run_id,
                             list(zip(model.video_ids, model.index, model.popularity)))
    step("videos written")
    version = time.time_ns() // 1000
    await resources.viewers.write_behaviour_many(
        slot, run_id, list(zip(model.viewer_ids, model.viewers.astype("float32"))), version)
    step("viewers written")
    return Fitted(config.factors.model, model.bound, model.ranker, model.content_map,
                  model.popular, model.quality, model.video_ids, model.index, model.query_map,
                  model.trained, (video_ids, content))


def train_from_cli(settings: Settings) -> int:
    """`make train`: one run as a leased job (jobs/leased.py), printed summary. Not
    resumable: a run holds its history in memory, so an interrupted one starts again."""
    from killrvideo_reco.jobs.leased import run_from_cli

    def work_for(resources):
        async def work(on_progress, cursor):
            return await run_training(resources, settings, on_progress=on_progress)
        return work

    code, job = run_from_cli(settings, "train", work_for, resumable=False,
                             after_interrupt="the live run is unchanged")
    if code != 0 or job is None or job.result is None:
        return code
    summary = job.result
    q = summary["quality"]
    print(f"train: run {summary['runId']} is live (slot {summary['slot']}, {summary['engine']} "
          f"engine, {summary['model']}, "
          f"{summary['dimension']} factors) after {summary['seconds']}s, process peak RSS "
          f"{summary['peakRssMB']} MB")
    print(f"train: {q['viewers']} viewers, {q['positives']} positive watches, "
          f"{q['trainedVideos']} of {q['videos']} videos trained (the rest from the content map)")
    print("train: own hold-out NDCG@10 - " + ", ".join(
        f"{k.removeprefix('ndcg@10 ')} {v}" for k, v in q.items() if k.startswith("ndcg")))
    print("train: ranking weights " + ", ".join(
        f"{name} {weight:+.2f}" for name, weight in q["ranker"].items()))
    return 0
