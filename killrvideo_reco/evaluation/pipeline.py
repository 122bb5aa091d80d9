"""One evaluation run: data -> embeddings -> keyspace -> profiles -> rankings -> metrics.

The keyspace must exist with the schema applied and hold nothing else (the CLI drops
and recreates it; tests get a fresh one). Profiles are rebuilt from viewer_history by
ActivityService.rebuild, the code `make profiles` runs for each viewer.
"""
from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

from killrvideo_reco.bootstrap import Stores, profile_params, services_on
from killrvideo_reco.embeddings.provider import EmbeddingProvider
from killrvideo_reco.evaluation import (
    data,
    loader,
    metrics,
    neighbour_study,
    offline,
    shaping_study,
)
from killrvideo_reco.evaluation.data import UserSplit
from killrvideo_reco.evaluation.embedding import embed_movies
from killrvideo_reco.evaluation.engines import engine_runs
from killrvideo_reco.evaluation.methods import Catalogue, Recommenders
from killrvideo_reco.jobs.profiles import rebuild_profiles
from killrvideo_reco.jobs.train import run_training, training_config
from killrvideo_reco.service.activity import ActivityService
from killrvideo_reco.settings import Settings

log = logging.getLogger(__name__)
R = TypeVar("R")
READ_CONCURRENCY = 8  # users ranked at once


@dataclass(frozen=True)
class RunConfig:
    data_dir: Path
    users: int | None = None          # subsample for a quick run
    k: int = 10
    cache_dir: Path | None = Path(".cache")
    offline_checks: bool = True       # sensitivity grid and cold videos (in memory)
    engines: bool = False             # + For You after local ALS and Spark ALS (needs PySpark)


@dataclass
class MethodResult:
    key: str
    name: str
    lists: dict[int, list[int]]
    variant: bool = False
    metrics: dict = field(default_factory=dict)


@dataclass
class RunResult:
    config: RunConfig
    methods: list[MethodResult]
    timings: dict[str, float]
    stats: dict
    feed_sources: Counter
    training: dict = field(default_factory=dict)
    engines: dict = field(default_factory=dict)  # method key -> its training summary
    sensitivity: list[dict] = field(default_factory=list)
    cold: dict = field(default_factory=dict)
    shaping: list[dict] = field(default_factory=list)
    related: list[MethodResult] = field(default_factory=list)  # scored like `methods`


async def _per_user(users: list[UserSplit],
                    fn: Callable[[UserSplit], Awaitable[R]]) -> dict[int, R]:
    results = await loader.bounded((partial(fn, u) for u in users), READ_CONCURRENCY)
    return {u.user_id: r for u, r in zip(users, results)}


async def _rebuild(videos, viewers, settings, params, facts) -> dict:
    """The profile job's own code (`make profiles`), over this keyspace's viewers."""
    activity = ActivityService(videos, viewers, params, settings.vector_dimension)
    return await rebuild_profiles(videos, viewers, activity, facts_cache=facts,
                                  progress_stream=sys.stderr)


async def evaluate(settings: Settings, stores: Stores, provider: EmbeddingProvider,
                   config: RunConfig) -> RunResult:
    timings: dict[str, float] = {}
    clock = time.monotonic()
    videos, viewers, behaviour = stores.videos, stores.viewers, stores.behaviour

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        timings[name] = round(now - clock, 1)
        clock = now

    dataset = data.load(config.data_dir)
    all_users, skipped = data.split_users(dataset.ratings)
    users = data.subsample(all_users, config.users)
    movies = [dataset.movies[m] for m in sorted(dataset.movies)]
    lap("load data")

    vectors, cached, embed_s = embed_movies(provider, movies, config.data_dir, config.cache_dir)
    lap("embed movies (cached)" if cached else "embed movies")

    ks = settings.cassandra_keyspace
    await loader.load_catalogue(videos, movies, vectors, provider.model_id,
                                data.added_times(dataset.ratings))
    watches = await loader.write_history(viewers, users)
    lap("write movies and watches")

    params = profile_params(settings)
    facts = await loader.read_facts(videos, users)
    rebuilt = await _rebuild(videos, viewers, settings, params, facts)
    lap("rebuild profiles")

    catalogue = Catalogue([m.movie_id for m in movies], vectors, data.popularity(all_users))
    services = services_on(stores, settings, provider)
    rec = Recommenders(videos, viewers, services.feed, settings, catalogue, params, config.k)
    content_out = await _per_user(users, rec.for_you)  # no training run yet: content only
    mean_out = await _per_user(users, rec.mean_vector)
    i2i_out = await _per_user(users, rec.item_to_item)
    exact_out = await _per_user(users, rec.exact)
    ann_out = await _per_user(users, rec.profile_ann)
    lap("rank before training (content methods)")

    training = await run_training(services, settings, progress_stream=sys.stderr)
    run = await behaviour.active_run()
    if run is None:
        raise RuntimeError("the training run did not become live")
    lap("train (make train's code) + profile rebuild")
    feed_out = await _per_user(users, rec.for_you)
    behaviour_out = await _per_user(users, lambda u: rec.behaviour_only(u, behaviour, run))
    lap("rank after training (For You, behaviour only)")
    related = await neighbour_study.related(stores, settings, provider, users, catalogue,
                                            config.k)
    lap("related videos of each user's last training video")

    async def rank_with(feed=None):
        out = await _per_user(users, partial(rec.for_you, feed=feed))
        return {u: items for u, (items, _) in out.items()}

    engine_results, engines = [], {}
    if config.engines:
        for key, name, lists, summary, variant in await engine_runs(services, settings,
                                                                     rank_with):
            engine_results.append(MethodResult(key, name, lists, variant))
            engines[key] = summary
        lap("train ALS with each engine, three seeds, and rank For You (make eval "
            "TRAIN_ENGINE=spark)")

    results = [
        MethodResult("popularity", "Popularity (most-rated, unwatched)",
                     {u.user_id: rec.popularity(u) for u in users}),
        MethodResult("latest", "Latest (highest movieId, unwatched)",
                     {u.user_id: rec.latest(u) for u in users}),
        MethodResult("content", "Content only: the feed before training (FeedService, no run)",
                     {u: items for u, (items, _) in content_out.items()}),
        MethodResult("behaviour", "Behaviour only: behaviour vector + ANN", behaviour_out),
        MethodResult("foryou", "For You: two-stage feed (FeedService)",
                     {u: items for u, (items, _) in feed_out.items()}),
        *engine_results,
        MethodResult("i2i_max", "Item-to-item (content), last 5 positives, max",
                     {u: r["max"] for u, r in i2i_out.items()}, variant=True),
        MethodResult("i2i_sum", "Item-to-item (content), last 5 positives, sum",
                     {u: r["sum"] for u, r in i2i_out.items()}, variant=True),
        MethodResult("mean", "Unweighted mean content vector + ANN", mean_out, variant=True),
    ]
    ease_related: list[MethodResult] = []
    if config.offline_checks:
        by_lambda = await asyncio.to_thread(neighbour_study.ease, users, params, config.k)
        results += [MethodResult(f"ease_{lam:g}", f"EASE in memory, lambda {lam:g} (a ceiling: "
                                 "lambda is chosen on this split)", lists, variant=True)
                    for lam, (lists, _) in by_lambda.items()]
        ease_related = [MethodResult(f"related_ease_{lam:g}", f"EASE item-item lists in memory, "
                                     f"lambda {lam:g}", lists)
                        for lam, (_, lists) in by_lambda.items()]
        lap("EASE in memory")
        counts = await neighbour_study.just_watched(stores, settings, provider, rank_with)
        results += [MethodResult(f"just_watched_{n}", f"For You, just-watched source from the "
                                 f"last {n} positives (retrained with it)" if n else
                                 "For You without the just-watched source (retrained)", lists,
                                 variant=True) for n, lists in counts.items()]
        lap("just-watched sensitivity (a training run per value)")
    sensitivity_rows, cold, shaping_rows = [], {}, []
    if config.offline_checks:
        base = training_config(settings)
        movie_ids = [m.movie_id for m in movies]
        sensitivity_rows = await asyncio.to_thread(
            offline.sensitivity, dataset, users, movie_ids, vectors, base,
            offline.default_grid(base))
        cold = await asyncio.to_thread(offline.cold_videos, users, movie_ids, vectors, base)
        shaping_rows = await asyncio.to_thread(shaping_study.study, dataset, users, movie_ids,
                                               vectors, base)
        lap("in-memory checks (sensitivity, cold videos, shaping)")

    relevant = {u.user_id: set(u.relevant) for u in users}
    popular_now = [m for m in results if m.key == "popularity"]
    related_results = [
        MethodResult("related", "Related videos (the endpoint: behaviour lists, content for "
                     "untrained)", related["served"]),
        MethodResult("related_content", "Content neighbour lists alone", related["content"]),
        *ease_related]
    for result in [*results, *related_results]:
        result.metrics = metrics.summarise(result.lists, relevant, catalogue.vector,
                                           len(movies), config.k)
    related_results += popular_now  # scored with `results` already
    train_seen = {u.user_id: {r.movie_id for r in u.train} for u in users}
    leaks = sum(len(set(items) & train_seen[u]) for u, (items, _) in feed_out.items())
    overlaps = [len(set(ann) & set(exact)) / config.k
                for u, exact in exact_out.items() if exact and (ann := ann_out[u])]
    stats = {
        "ann_agreement": sum(overlaps) / len(overlaps) if overlaps else 0.0,
        "movies": len(movies), "ratings": len(dataset.ratings),
        "users_total": len(all_users) + sum(skipped.values()), "users_kept": len(all_users),
        "users_evaluated": len(users), "skipped": skipped, "train_watches": watches,
        "relevant_per_user": sum(len(u.relevant) for u in users) / max(1, len(users)),
        "profiles": rebuilt, "model_id": provider.model_id, "embeddings_cached": cached,
        "embed_seconds": embed_s,
        "feed_returned_watched": leaks, "keyspace": ks,
        "params": ", ".join(f"{k}={v}" for k, v in vars(params).items()) + (
            f"; feed_similarity_floor={settings.feed_similarity_floor}"),
        "short_feed_lists": sum(1 for items, _ in feed_out.values() if len(items) < config.k),
    }
    sources = Counter(source for _, source in feed_out.values())
    return RunResult(config, results, timings, stats, sources, training, engines,
                     sensitivity_rows, cold, shaping_rows, related_results)
