"""One training run, start to finish, in memory: history arrays + the catalogue's content
vectors in, every video's behaviour vector, every viewer's vector, the content map and
the ranking weights out. No I/O: jobs/train.py feeds it and stores what it returns."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

import numpy as np

from killrvideo_reco.domain.behaviour import ContentMap, index_vectors, max_norm
from killrvideo_reco.domain.models import CandidateSizes
from killrvideo_reco.domain.ranking import RankerWeights
from killrvideo_reco.domain.taste_profile import ProfileParams
from killrvideo_reco.domain.vectors import unit_rows
from killrvideo_reco.training.factors import (
    FactorConfig,
    fit_content_map,
    fit_item_vectors,
    query_map,
    viewer_vectors,
)
from killrvideo_reco.training.interactions import History, decayed_weights, matrix
from killrvideo_reco.training.ranker import (
    ViewerCase,
    fit_weights,
    holdout_mask,
    latest_first,
    log_scaled,
    popularity,
    popularity_counts,
)

log = logging.getLogger(__name__)
POPULAR_KEPT = 1000
RANKER_VIEWERS = 2000


@dataclass(frozen=True)
class TrainingConfig:
    factors: FactorConfig = field(default_factory=FactorConfig)
    params: ProfileParams = field(default_factory=ProfileParams)
    holdout_per_viewer: int = 3
    min_viewers: int = 2
    content_ridge: float = 10.0
    sizes: CandidateSizes = field(default_factory=CandidateSizes)
    seed: int = 7


@dataclass
class TrainedModel:
    video_ids: list[uuid.UUID]   # the catalogue, in row order of the arrays below
    index: np.ndarray            # (videos, dimension + 1) unit vectors for the SAI index
    popularity: np.ndarray       # (videos,) log-scaled distinct viewers in [0, 1]
    bound: float                 # M of the MIPS transform
    content_map: ContentMap
    ranker: RankerWeights
    popular: list[uuid.UUID]     # most popular first
    viewer_ids: list[uuid.UUID]
    viewers: np.ndarray          # (viewers, dimension) raw behaviour vectors
    trained_videos: int
    quality: dict
    query_map: np.ndarray | None = None  # ALS runs: domain/behaviour.viewer_query
    trained: np.ndarray | None = None    # (videos,) bool: fitted, not placed by the map

    def query(self, viewer: int) -> np.ndarray:
        """A viewer's behaviour query as serving computes it (the sum, times the query map
        of an ALS run), for in-memory scoring."""
        vector = self.viewers[viewer]
        return vector if self.query_map is None else self.query_map @ vector


@dataclass
class VideoSpace:
    """Every video's place in a run's behaviour space, from the trained videos' vectors:
    what both engines write for the videos (the same code, so serving cannot tell them apart)."""
    index: np.ndarray       # (videos, dimension + 1) unit vectors for the SAI index
    served_raw: np.ndarray  # (videos, dimension) what the view path reads back from `index`
    bound: float
    content_map: ContentMap
    popularity: np.ndarray  # float32
    popular: list[uuid.UUID]
    trained: np.ndarray     # (videos,) bool: fitted from history, not placed by the map


def trained_mask(viewers_per_row: np.ndarray, video_ids: list[uuid.UUID],
                 exclude: frozenset[uuid.UUID], min_viewers: int) -> np.ndarray:
    """The videos the factor model learns: min_viewers distinct viewers, not excluded."""
    excluded = np.array([v in exclude for v in video_ids], dtype=bool)
    trained = (viewers_per_row >= min_viewers) & ~excluded
    if trained.sum() < 2:
        raise ValueError(f"only {int(trained.sum())} videos have {min_viewers}+ viewers: "
                         "not enough history to train")
    return trained


def video_space(video_ids: list[uuid.UUID], content: np.ndarray, trained: np.ndarray,
                trained_vectors: np.ndarray, viewers_per_row: np.ndarray,
                config: TrainingConfig) -> VideoSpace:
    """The MIPS transform of the trained vectors, the content map for the others, the
    popularity feature and the most popular list."""
    n_videos = len(video_ids)
    bound = max_norm(trained_vectors)
    content_map = fit_content_map(content[trained], trained_vectors, config.content_ridge)
    raw = np.zeros((n_videos, config.factors.dimension))
    raw[trained] = trained_vectors
    if (~trained).any():
        raw[~trained] = content_map.predict(content[~trained])
    index = index_vectors(raw, bound)
    served_raw = index[:, :-1].astype(np.float64) * bound  # what the view path will read back
    pop = log_scaled(viewers_per_row)  # popularity(rows, users, n_videos), counted once
    order = np.lexsort((np.arange(n_videos), -pop))[:POPULAR_KEPT]
    return VideoSpace(index, served_raw, bound, content_map, pop.astype(np.float32),
                      [video_ids[i] for i in order if pop[i] > 0], trained)


def train(history: History, video_ids: list[uuid.UUID], content: np.ndarray,
          config: TrainingConfig, exclude: frozenset[uuid.UUID] = frozenset(),
          on_step=lambda name: None) -> TrainedModel:
    """`exclude`: videos kept out of the factor model (they get content-map vectors, as a
    new upload would); the evaluation measures cold videos with it."""
    users, items, weights, times = history.arrays()
    catalogue = {v: n for n, v in enumerate(video_ids)}
    item_ids = list(history.items)
    # History item index -> catalogue row (-1: deleted video, no content vector).
    to_row = np.array([catalogue.get(v, -1) for v in item_ids], dtype=np.int64)
    keep = to_row[items] >= 0
    users, rows, weights, times = users[keep], to_row[items[keep]], weights[keep], times[keep]
    decayed = decayed_weights(users, weights, times, history.latest(), config.params)
    n_users, n_videos = len(history.users), len(video_ids)

    viewers_per_row = popularity_counts(users, rows, n_videos)
    trained = trained_mask(viewers_per_row, video_ids, exclude, config.min_viewers)
    on_step("ranking weights (hold-out fit)")
    ranker, quality = _fit_ranker(users, rows, decayed, times, trained, content, config,
                                  n_users, n_videos)
    on_step("behaviour vectors (full fit)")
    on_trained = trained[rows]
    ratings = matrix(users[on_trained], _compact(rows[on_trained], trained), decayed[on_trained],
                     (n_users, int(trained.sum())))
    trained_vectors = fit_item_vectors(ratings, config.factors)
    on_step("content map for unwatched videos")
    space = video_space(video_ids, content, trained, trained_vectors, viewers_per_row, config)
    on_step("viewer vectors")
    viewer_matrix = matrix(users, rows, decayed, (n_users, n_videos))
    quality.update({"videos": n_videos, "trainedVideos": int(trained.sum()),
                    "viewers": n_users, "positives": int(users.size)})
    return TrainedModel(video_ids, space.index, space.popularity, space.bound,
                        space.content_map, ranker, space.popular, list(history.users),
                        viewer_vectors(viewer_matrix, space.served_raw), int(trained.sum()),
                        quality, als_query_map(trained_vectors, config.factors.regularization,
                                               config), trained)


def _compact(rows: np.ndarray, trained: np.ndarray) -> np.ndarray:
    """Catalogue rows -> column indexes among the trained videos."""
    return (np.cumsum(trained) - 1)[rows]


def als_query_map(trained_vectors: np.ndarray, regularization: float,
                  config: TrainingConfig) -> np.ndarray | None:
    """The run's query map: ALS runs only (a PureSVD sum is already its own scoring)."""
    if config.factors.model != "als":
        return None
    return query_map(trained_vectors, regularization)


def viewer_case(seen: np.ndarray, weights: np.ndarray, labels: set[int], vectors: np.ndarray,
                unit: np.ndarray, params: ProfileParams,
                transform: np.ndarray | None = None,
                recent: np.ndarray | None = None) -> ViewerCase:
    """A held-out viewer as the ranker fit sees them: their fit part's behaviour query (the
    sum, times the run's query map if it has one) and content preference, and the
    catalogue rows they watched next."""
    behaviour = weights @ vectors[seen] if seen.size else None
    if behaviour is not None and transform is not None:
        behaviour = transform @ behaviour
    pref = weights @ unit[seen] if seen.size >= params.min_positive_videos else None
    if pref is not None and np.linalg.norm(pref) > 1e-12:
        pref = pref / np.linalg.norm(pref)
    else:
        pref = None
    return ViewerCase(seen, labels, behaviour, pref,
                      np.zeros(0, dtype=np.int64) if recent is None else recent)


def fit_ranker(cases: list[ViewerCase], vectors: np.ndarray, unit: np.ndarray,
               pop: np.ndarray, config: TrainingConfig):
    return fit_weights(cases, vectors, max_norm(vectors), unit, pop, config.sizes, config.seed)


def _fit_ranker(users, rows, decayed, times, trained, content, config: TrainingConfig,
                n_users: int, n_videos: int):
    held = holdout_mask(users, rows, times, config.holdout_per_viewer)
    fit = ~held & trained[rows]
    ratings = matrix(users[fit], _compact(rows[fit], trained), decayed[fit],
                     (n_users, int(trained.sum())))
    vectors = np.zeros((n_videos, config.factors.dimension))
    vectors[trained] = fit_item_vectors(ratings, config.factors)
    pop = popularity(rows[~held], users[~held], n_videos)
    unit = unit_rows(content, floor=1e-12)
    fit_matrix = matrix(users[~held], rows[~held], decayed[~held], (n_users, n_videos)).tocsr()
    held_matrix = matrix(users[held], rows[held], np.ones(int(held.sum())),
                         (n_users, n_videos)).tocsr()
    labelled = np.unique(users[held])
    rng = np.random.default_rng(config.seed)
    if labelled.size > RANKER_VIEWERS:
        labelled = rng.choice(labelled, RANKER_VIEWERS, replace=False)
    transform = als_query_map(vectors[trained], config.factors.regularization, config)
    cases = []
    fit_users, fit_rows, fit_times = users[~held], rows[~held], times[~held]
    by_user = np.argsort(fit_users, kind="stable")
    bounds = np.searchsorted(fit_users[by_user], [labelled, labelled + 1])
    for user, start, end in zip(labelled, *bounds):
        row = fit_matrix.getrow(user)
        labels = set(held_matrix.getrow(user).indices.tolist())
        mine = by_user[start:end]
        recent = latest_first(fit_rows[mine], fit_times[mine], config.sizes.just_watched_videos)
        cases.append(viewer_case(row.indices, row.data, labels, vectors, unit, config.params,
                                 transform, recent))
    return fit_ranker(cases, vectors, unit, pop, config)
