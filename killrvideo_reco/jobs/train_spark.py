"""TRAIN_ENGINE=spark: the fit and the vectors of a run, through Spark (jobs/train.py
records, switches and rebuilds as for the local engine).

The session lives for one run: a master that cannot be reached, or a Spark job that
fails, raises here, the job registry records the job as failed with the cause, and the
live run is untouched (nothing is switched before every vector is written)."""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable

from killrvideo_reco.bootstrap import Services
from killrvideo_reco.jobs.train import Fitted
from killrvideo_reco.settings import Settings
from killrvideo_reco.store.spark_history import read_history, write_behaviour
from killrvideo_reco.training.model import TrainingConfig
from killrvideo_reco.training.spark_engine import train_on_spark
from killrvideo_reco.training.spark_session import SparkOptions, start_session

log = logging.getLogger(__name__)


def spark_options(settings: Settings) -> SparkOptions:
    return SparkOptions(
        master=settings.spark_master, driver_memory=settings.spark_driver_memory,
        executor_memory=settings.spark_executor_memory,
        executor_cores=settings.spark_executor_cores, packages=settings.spark_packages,
        partitions=settings.spark_partitions,
        cassandra_hosts=",".join(settings.contact_points) or "127.0.0.1",
        cassandra_port=settings.cassandra_port, cassandra_local_dc=settings.cassandra_local_dc,
        cassandra_username=settings.cassandra_username,
        cassandra_password=settings.cassandra_password,
        read_consistency=settings.spark_cassandra_read_consistency,
        write_consistency=settings.cassandra_write_consistency,
        split_size_mb=settings.spark_cassandra_split_size_mb,
        fetch_size_rows=settings.spark_cassandra_fetch_size_rows,
        extra=settings.spark_extra_conf, executor_wait_s=settings.spark_executor_wait_s)


async def fit_on_spark(resources: Services, settings: Settings, config: TrainingConfig,
                       slot: str, run_id: str, exclude: frozenset[uuid.UUID],
                       step: Callable[..., None]) -> Fitted:
    store = resources.training
    assert store is not None
    video_ids, content = await store.content_vectors()
    if content is None:
        raise ValueError("the catalogue has no videos with content vectors: nothing to train")
    spark = await asyncio.to_thread(start_session, spark_options(settings))
    try:
        step(f"spark session on {settings.spark_master}")
        history = read_history(spark, settings.cassandra_keyspace)
        fitted = await asyncio.to_thread(train_on_spark, spark, history, video_ids, content,
                                         config, exclude, step)
        await store.write_videos(slot, run_id, list(zip(video_ids, fitted.space.index,
                                                        fitted.space.popularity)))
        step("videos written")
        version = time.time_ns() // 1000
        await asyncio.to_thread(write_behaviour, spark, fitted.viewer_vectors,
                                settings.cassandra_keyspace, slot, run_id, version)
        step("viewers written")
    except asyncio.CancelledError:  # the job was interrupted: stop Spark's work too
        spark.sparkContext.cancelAllJobs()
        raise
    finally:
        await asyncio.to_thread(spark.stop)
    quality = {**fitted.quality, "engine": "spark", "master": settings.spark_master}
    return Fitted("als", fitted.space.bound, fitted.ranker, fitted.space.content_map,
                  fitted.space.popular, quality, video_ids, fitted.space.index,
                  fitted.query_map, fitted.space.trained, (video_ids, content))
