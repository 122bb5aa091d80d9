"""The Spark engine's side of the tables, through the Spark Cassandra Connector: viewing
history read by token-range splits (each executor reads its ranges from the replicas
that own them, no full scan through one coordinator), and viewers' behaviour vectors
written back from the executors. PySpark is imported only by the caller's session."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from killrvideo_reco.domain.models import HistoryRow
from killrvideo_reco.store.taste_states import is_history

CASSANDRA = "org.apache.spark.sql.cassandra"
# What the interaction weights read; timestamps as epoch seconds (no time zone involved).
WEIGHT_COLUMNS = ("play_count", "seconds_watched", "duration_s")
TIME_COLUMNS = ("last_watched", "hidden_at")


def read_history(spark, keyspace: str):
    """An RDD of (viewer id, HistoryRow): every watch and hide of viewer_history."""
    from pyspark.sql import functions as F

    table = spark.read.format(CASSANDRA).options(keyspace=keyspace, table="viewer_history").load()
    columns = [F.col("userid"), F.col("videoid"), *map(F.col, WEIGHT_COLUMNS),
               *(F.col(name).cast("double").alias(name) for name in TIME_COLUMNS)]
    return table.select(*columns).rdd.flatMap(history_record)


def history_record(record) -> list[tuple[uuid.UUID, HistoryRow]]:
    """One connector row -> [(viewer, history row)], or [] for the channel rows and the
    static-only rows the partition also holds (the same test as the driver's reads)."""
    if not is_history(record):
        return []
    return [(uuid.UUID(str(record.userid)), HistoryRow(
        video_id=uuid.UUID(str(record.videoid)), last_watched=_moment(record.last_watched),
        play_count=record.play_count or 0, seconds_watched=record.seconds_watched or 0.0,
        duration_s=record.duration_s, hidden_at=_moment(record.hidden_at)))]


def _moment(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)


def write_behaviour(spark, vectors, keyspace: str, slot: str, run_id: str, version: int) -> None:
    """vectors: an RDD of (viewer id string, list of floats). Written as the driver's
    write_behaviour_many writes them: USING TIMESTAMP `version`, so a later view wins."""
    from pyspark.sql.types import ArrayType, FloatType, StringType, StructField, StructType

    schema = StructType([StructField("userid", StringType(), False),
                         StructField(f"behaviour_{slot}", ArrayType(FloatType(), False), False),
                         StructField(f"behaviour_{slot}_run", StringType(), False)])
    frame = spark.createDataFrame(vectors.map(lambda pair: (pair[0], pair[1], run_id)), schema)
    (frame.write.format(CASSANDRA).mode("append")
     .options(keyspace=keyspace, table="user_preferences")
     .option("spark.cassandra.output.timestamp", str(version))
     .save())
