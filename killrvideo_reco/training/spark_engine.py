"""The Spark engine: the same run as model.train, with everything that grows with viewers
or watches in Spark and the catalogue-sized rest on the driver.

In Spark: each viewer's weighted positives (interactions.viewer_positives, the one
definition of the weights) and their hold-out, the counts per video, the two ALS fits
(pyspark.ml ALS, implicitPrefs), every viewer's behaviour vector. On the driver: the
item factors (one row per video), the ranking-weight fit on a 2,000-viewer sample, the
content map and the MIPS transform (model.video_space, shared with the local engine).
"""
from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import numpy as np

from killrvideo_reco.domain.models import HistoryRow
from killrvideo_reco.domain.ranking import RankerWeights
from killrvideo_reco.domain.taste_profile import ProfileParams
from killrvideo_reco.domain.vectors import unit_rows
from killrvideo_reco.training import als_wr
from killrvideo_reco.training.factors import FactorConfig, query_map
from killrvideo_reco.training.interactions import viewer_positives
from killrvideo_reco.training.model import (
    RANKER_VIEWERS,
    TrainingConfig,
    VideoSpace,
    fit_ranker,
    trained_mask,
    video_space,
    viewer_case,
)
from killrvideo_reco.training.ranker import holdout_mask, latest_first, log_scaled

log = logging.getLogger(__name__)
# The driver's steps, for the job's progress (stages done / total).
STEPS = ("weights and hold-out", "counts", "ranking weights", "full fit", "video space")


@dataclass
class SparkRun:
    space: VideoSpace
    ranker: RankerWeights
    quality: dict
    viewer_vectors: object    # RDD of (viewer id string, list of float), not collected
    trained_videos: int
    query_map: np.ndarray     # (Y^T Y + lambda I)^-1, lambda = TRAIN_REGULARIZATION


def viewer_training_rows(rows: Iterable[HistoryRow], params: ProfileParams,
                         catalogue: dict[uuid.UUID, int], holdout: int
                         ) -> list[tuple[int, float, bool, float]]:
    """One viewer's (catalogue row, decayed weight, held out, when) for each positive of a
    video in the catalogue: the local engine's weights and hold-out, one viewer at a time."""
    kept = [(catalogue[video], weight, at) for video, weight, at in viewer_positives(rows, params)
            if video in catalogue]
    if not kept:
        return []
    items = np.array([row for row, _, _ in kept], dtype=np.int64)
    times = np.array([at for _, _, at in kept])
    held = holdout_mask(np.zeros(items.size, dtype=np.int64), items, times, holdout)
    return [(row, weight, bool(h), float(at)) for (row, weight, at), h in zip(kept, held)]


def behaviour_sum(pairs: Iterable[tuple[int, float]], served: np.ndarray) -> list[float]:
    """A viewer's behaviour vector: the weighted sum of the served vectors they watched."""
    total = np.zeros(served.shape[1])
    for row, weight in pairs:
        total += weight * served[row]
    return total.astype(np.float32).tolist()


def counts_per_video(pairs: Iterable[tuple[int, int]], n_videos: int) -> np.ndarray:
    out = np.zeros(n_videos, dtype=np.int64)
    for row, count in pairs:
        out[row] = count
    return out


def train_on_spark(spark, history, video_ids: list[uuid.UUID], content: np.ndarray,
                   config: TrainingConfig, exclude: frozenset[uuid.UUID] = frozenset(),
                   on_step: Callable[[str], None] = lambda name: None) -> SparkRun:
    """`history`: an RDD of (viewer id, HistoryRow) (store/spark_history.py)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, DoubleType, IntegerType, StringType, StructField, StructType

    sc, n_videos = spark.sparkContext, len(video_ids)
    catalogue = sc.broadcast({v: n for n, v in enumerate(video_ids)})
    params, holdout = config.params, config.holdout_per_viewer

    def positives(pair):
        (viewer, rows), index = pair
        return [(index, str(viewer), row, weight, held, at)
                for row, weight, held, at in viewer_training_rows(rows, params,
                                                                  catalogue.value, holdout)]

    grouped = history.groupByKey()
    schema = StructType([StructField("user", IntegerType(), False),
                         StructField("viewer", StringType(), False),
                         StructField("item", IntegerType(), False),
                         StructField("rating", DoubleType(), False),
                         StructField("held", BooleanType(), False),
                         StructField("at", DoubleType(), False)])
    watches = spark.createDataFrame(grouped.zipWithIndex().flatMap(positives), schema)
    watches = watches.persist(StorageLevel.MEMORY_AND_DISK)
    n_viewers, n_positives = grouped.count(), watches.count()
    regularization = config.factors.regularization
    mllib = replace(config.factors, regularization=als_wr.mean_viewer_reg_param(
        regularization, n_positives, watches.select("user").distinct().count()))
    on_step(STEPS[0])

    viewers_per_row = counts_per_video(watches.groupBy("item").count().collect(), n_videos)
    trained = trained_mask(viewers_per_row, video_ids, exclude, config.min_viewers)
    trained_items = spark.createDataFrame([(int(i),) for i in np.flatnonzero(trained)], ["item"])
    on_trained = watches.join(F.broadcast(trained_items), "item")
    on_step(STEPS[1])

    fit_part = on_trained.filter(~F.col("held"))
    vectors = fit_item_factors(fit_part, mllib, n_videos)
    kept = watches.filter(~F.col("held"))
    pop = log_scaled(counts_per_video(kept.groupBy("item").count().collect(), n_videos))
    unit = unit_rows(content, floor=1e-12)
    cases = _sample_cases(watches, vectors, unit, config,
                          query_map(vectors[trained], regularization))
    ranker, quality = fit_ranker(cases, vectors, unit, pop, config)
    on_step(STEPS[2])

    full = fit_item_factors(on_trained, mllib, n_videos)
    on_step(STEPS[3])
    space = video_space(video_ids, content, trained, full[trained], viewers_per_row, config)
    served = sc.broadcast(space.served_raw)
    viewer_vectors = (watches.select("viewer", "item", "rating").rdd
                      .map(lambda r: (r.viewer, (r.item, r.rating))).groupByKey()
                      .mapValues(lambda pairs: behaviour_sum(pairs, served.value)))
    on_step(STEPS[4])
    quality.update({"videos": n_videos, "trainedVideos": int(trained.sum()),
                    "viewers": n_viewers, "positives": int(n_positives)})
    return SparkRun(space, ranker, quality, viewer_vectors, int(trained.sum()),
                    query_map(full[trained], regularization))


def fit_item_factors(watches, factors: FactorConfig, n_videos: int) -> np.ndarray:
    """ALS item factors as (videos, dimension); rows of videos not in `watches` stay 0.
    Confidence 1 + alpha * weight, as the local engine gives `implicit`."""
    from pyspark.ml.recommendation import ALS

    als = ALS(rank=factors.dimension, maxIter=factors.iterations, regParam=factors.regularization,
              alpha=factors.alpha, implicitPrefs=True, userCol="user", itemCol="item",
              ratingCol="rating", seed=factors.seed, nonnegative=False)
    model = als.fit(watches.select("user", "item", "rating"))
    vectors = np.zeros((n_videos, factors.dimension))
    for row in model.itemFactors.collect():
        vectors[row.id] = row.features
    return vectors


def _sample_cases(watches, vectors: np.ndarray, unit: np.ndarray, config: TrainingConfig,
                  transform: np.ndarray):
    """The ranking fit's viewers: up to RANKER_VIEWERS with a hold-out, their positives
    collected to the driver (bounded by the sample, not by the history)."""
    from pyspark.sql import functions as F

    labelled = (watches.filter(F.col("held")).select("user").distinct()
                .orderBy(F.rand(config.seed)).limit(RANKER_VIEWERS))
    rows = (watches.join(F.broadcast(labelled), "user")
            .select("user", "item", "rating", "held", "at").collect())
    by_viewer: dict[int, list] = defaultdict(list)
    for row in rows:
        by_viewer[row.user].append(row)
    cases = []
    for user in sorted(by_viewer):
        fit = [r for r in by_viewer[user] if not r.held]
        items = np.array([r.item for r in fit], dtype=np.int64)
        recent = latest_first(items, np.array([r.at for r in fit]),
                              config.sizes.just_watched_videos)
        cases.append(viewer_case(items, np.array([r.rating for r in fit]),
                                 {r.item for r in by_viewer[user] if r.held}, vectors, unit,
                                 config.params, transform, recent))
    return cases
