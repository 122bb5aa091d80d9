"""`make eval TRAIN_ENGINE=spark`: the For You feed after ALS trained by each engine with
the same hyper-parameters (the Spark row is ALS trained by Spark MLlib, served through
the same FeedService), beside the default PureSVD run of the main table."""
from __future__ import annotations

import io
import time

from killrvideo_reco.jobs.train import run_training
from killrvideo_reco.settings import Settings

ENGINES = (("foryou_als_local", "For You, ALS trained by the local engine (implicit)",
            {"train_engine": "local", "train_model": "als"}),
           ("foryou_als_spark", "For You, ALS trained by the Spark engine (MLlib, local[*])",
            {"train_engine": "spark", "train_model": "als", "spark_master": "local[*]"}))


async def engine_runs(services, settings: Settings, rank_all) -> list[tuple[str, str, dict, dict]]:
    """(key, name, lists per user, training summary) for each engine, in turn live."""
    found = []
    for key, name, overrides in ENGINES:
        started = time.monotonic()
        summary = await run_training(services, settings.model_copy(update=overrides),
                                     progress_stream=io.StringIO())
        summary["wallSeconds"] = round(time.monotonic() - started, 1)
        found.append((key, name, await rank_all(), summary))  # the live run's FeedService
    return found
