"""`make eval TRAIN_ENGINE=spark`: the For You feed after ALS trained by each engine with
the same hyper-parameters (the Spark row is ALS trained by Spark MLlib, served through
the same FeedService), beside the default PureSVD run of the main table; then both
engines again with other seeds (TRAIN_SEED), since one seed's gap mixes the engines'
difference with the fits' chance."""
from __future__ import annotations

import io
import time

from killrvideo_reco.jobs.train import run_training
from killrvideo_reco.settings import Settings

# Both engines fit one objective: the local engine with ALS-WR's penalty, as MLlib does
# (TRAIN_ALS_PENALTY=weighted); `implicit`'s flat penalty is a reference row, once.
ENGINES = (("foryou_als_local",
            "For You, ALS trained by the local engine (ALS-WR penalty, as MLlib)",
            {"train_engine": "local", "train_model": "als", "train_als_penalty": "weighted"}),
           ("foryou_als_spark", "For You, ALS trained by the Spark engine (MLlib, local[*])",
            {"train_engine": "spark", "train_model": "als", "spark_master": "local[*]"}))
FLAT = ("foryou_als_flat", "For You, ALS trained by the local engine (implicit, flat penalty)",
        {"train_engine": "local", "train_model": "als", "train_als_penalty": "flat"})
EXTRA_SEEDS = 2  # seeds after TRAIN_SEED that both engines train with again


def seed_key(key: str, seed: int) -> str:
    return f"{key}@{seed}"


def base_key(key: str) -> str:
    """An engine row's key without its seed: seed_key's inverse."""
    return key.partition("@")[0]


async def engine_runs(services, settings: Settings, rank_all,
                      extra_seeds: int = EXTRA_SEEDS) -> list[tuple[str, str, dict, dict, bool]]:
    """(key, name, lists per user, training summary, is a seed variant) for each engine
    and seed, each run in turn live. TRAIN_SEED's runs keep the plain keys."""
    found = []
    first = settings.train_seed
    for seed in range(first, first + 1 + extra_seeds):
        for key, name, overrides in ENGINES + ((FLAT,) if seed == first else ()):
            started = time.monotonic()
            summary = await run_training(
                services, settings.model_copy(update={**overrides, "train_seed": seed}),
                progress_stream=io.StringIO())
            summary["wallSeconds"] = round(time.monotonic() - started, 1)
            summary["seed"] = seed
            variant = seed != first or key == FLAT[0]
            found.append((seed_key(key, seed) if variant else key,
                          f"{name}, seed {seed}" if variant else name,
                          await rank_all(), summary, variant))  # the live run's feed
    return found
