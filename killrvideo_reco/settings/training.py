"""Settings of the behaviour space's training, local or on Spark: one part of Settings."""
from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

from killrvideo_reco.settings.storage import ConsistencyName


class TrainingSettings(BaseSettings):
    # --- behaviour space and training (make train) ---
    behaviour_dimension: int = Field(
        32, ge=2, le=512, description="Factors of the learned behaviour space (videos get one more).")
    train_model: Literal["svd", "als"] = Field(
        "svd", description="svd: PureSVD (scipy); als: implicit ALS (implicit).")
    train_alpha: float = Field(2.0, gt=0, description="Confidence = 1 + alpha * weight (ALS only).")
    train_regularization: float = Field(1.0, ge=0, description="ALS L2 regularisation.")
    train_als_penalty: Literal["flat", "weighted"] = Field(
        "flat", description="Local engine's ALS: flat: one lambda for every row (implicit); "
        "weighted: ALS-WR's penalty, lambda scaled by each row's positives with the mean "
        "viewer at lambda, the objective the Spark engine's MLlib fits (training/als_wr.py).")
    train_iterations: int = Field(15, ge=1, description="ALS iterations.")
    train_seed: int = Field(
        7, ge=0, description="Seed of the factor fit's start and of the ranking-weight "
        "sample: the same history and seed give the same run; another seed shows how much "
        "of a result is chance.")
    train_holdout_per_viewer: int = Field(
        3, ge=1, description="Each viewer's latest positives held out to fit the ranking.")
    train_min_viewers: int = Field(2, ge=1, description="Videos watched by fewer viewers are "
                                   "not trained; they get vectors from the content map.")
    train_content_map_ridge: float = Field(
        10.0, gt=0, description="Ridge penalty of the content -> behaviour map for new videos.")
    train_engine: Literal["local", "spark"] = Field(
        "local", description="local: one process (TRAIN_MODEL); spark: ALS in Spark MLlib "
        "(TRAIN_MODEL is ignored), history read through the Spark Cassandra Connector. Needs "
        "PySpark: the make targets install it into .venv-spark when TRAIN_ENGINE=spark.")
    train_schedule: str = Field(
        "", description="Retrain on a schedule, e.g. `every 24h` or `every 30m`; empty: off. "
        "The replica that wins the training lease runs it; a failed run leaves the live one "
        "serving and the next slot retries.")

    # --- the Spark engine (TRAIN_ENGINE=spark) ---
    spark_master: str = Field(
        "local[*]", description="Where the Spark driver sends work: `local[*]` (in-process), "
        "`spark://host:7077` (a standalone master, e.g. make spark-up), `yarn`, `k8s://...`.")
    spark_driver_memory: str = Field(
        "1g", description="spark.driver.memory. The driver holds catalogue-sized data only "
        "(item factors, content vectors, a 2,000-viewer sample for the ranking weights).")
    spark_executor_memory: str = Field(
        "1g", description="spark.executor.memory, per executor (grows with watches per executor).")
    spark_executor_cores: int = Field(
        0, ge=0, description="spark.executor.cores; 0 leaves Spark's default (all of a worker's).")
    spark_packages: str = Field(
        "com.datastax.spark:spark-cassandra-connector_2.12:3.5.1",
        description="spark.jars.packages: Maven coordinates resolved by the driver (Maven "
        "Central) and shipped to the executors.")
    spark_partitions: int = Field(
        0, ge=0, description="Shuffle partitions and ALS blocks; 0: twice the executors' cores.")
    spark_cassandra_read_consistency: ConsistencyName = Field(
        "LOCAL_ONE", description="Consistency of the connector's history scan (its default). "
        "LOCAL_QUORUM reads what a quorum acknowledged, at twice the replica reads.")
    spark_cassandra_split_size_mb: int = Field(
        64, ge=1, description="spark.cassandra.input.split.sizeInMB: token-range split size, "
        "so the number of Spark partitions the history scan has (estimated from table size).")
    spark_cassandra_fetch_size_rows: int = Field(
        1000, ge=1, description="spark.cassandra.input.fetch.sizeInRows: rows per page.")
    spark_executor_wait_s: float = Field(
        120.0, gt=0, description="How long a standalone master may take to give the job its "
        "first executor. A master with no worker, or none with the cores and memory asked, "
        "would otherwise keep the job waiting for ever: it fails instead, and the live run "
        "serves on.")
    spark_extra_conf: str = Field(
        "", description="More Spark properties, `key=value` comma-separated (e.g. "
        "`spark.executor.instances=4`).")

