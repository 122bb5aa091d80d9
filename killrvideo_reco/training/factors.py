"""Item vectors in the behaviour space, learned from the viewer x video matrix.

Viewers are not given factors of their own: a viewer's vector is the weighted sum of the
vectors of the videos they watched (the same sum the view path keeps up to date), so a
new view moves it at once. For PureSVD that sum is exactly the model's own scoring
(r_u V V^T); for ALS it is the usual item-based approximation.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import svds

from killrvideo_reco.training import als_wr

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FactorConfig:
    model: str = "svd"        # "svd" (PureSVD, scipy) or "als" (implicit ALS)
    dimension: int = 32
    alpha: float = 2.0        # ALS confidence = 1 + alpha * weight
    regularization: float = 1.0
    iterations: int = 15
    seed: int = 7
    penalty: str = "flat"     # ALS: "flat" (implicit) or "weighted" (ALS-WR, as MLlib)


def fit_item_vectors(ratings: sparse.csr_matrix, config: FactorConfig) -> np.ndarray:
    """(n_items, dimension) float64 item vectors from a viewers x videos weight matrix."""
    n_users, n_items = ratings.shape
    k = max(1, min(config.dimension, min(n_users, n_items) - 1))
    if config.model == "svd":
        vectors = _pure_svd(ratings, k, config.seed)
    elif config.model == "als" and config.penalty == "weighted":
        vectors = als_wr.fit_items(ratings, k, config.alpha, config.regularization,
                                   config.iterations, config.seed)
    elif config.model == "als":
        vectors = _implicit_als(ratings, k, config)
    else:
        raise ValueError(f"unknown factor model {config.model!r}; use 'svd' or 'als'")
    if k < config.dimension:  # tiny catalogues: pad so stored vectors keep their dimension
        vectors = np.hstack([vectors, np.zeros((n_items, config.dimension - k))])
    return vectors


def _pure_svd(ratings: sparse.csr_matrix, k: int, seed: int) -> np.ndarray:
    """Cremonesi et al. (2010): the top-k right singular vectors of the un-normalised
    matrix; score(u, i) = r_u . v_i with viewer vector r_u V."""
    rng = np.random.default_rng(seed)
    v0 = rng.uniform(-1, 1, size=min(ratings.shape))
    _, _, vt = svds(ratings.astype(np.float64), k=k, v0=v0, random_state=seed)
    vectors = vt.T  # (items, k); the sign of each factor is arbitrary but consistent
    return vectors[:, ::-1].copy()


def _implicit_als(ratings: sparse.csr_matrix, k: int, config: FactorConfig) -> np.ndarray:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from implicit.cpu.als import AlternatingLeastSquares

    # implicit uses the matrix values times its `alpha` as the confidence of a watch; give
    # it 1 + alpha * weight (Hu et al. 2008) and alpha = 1, so weak watches still count > 1.
    confidence = ratings.astype(np.float32).tocsr(copy=True)
    confidence.data = 1.0 + config.alpha * confidence.data
    model = AlternatingLeastSquares(factors=k, regularization=config.regularization,
                                    alpha=1.0, iterations=config.iterations,
                                    random_state=config.seed, num_threads=1,
                                    calculate_training_loss=False)
    model.fit(confidence, show_progress=False)
    return np.asarray(model.item_factors, dtype=np.float64)


def query_map(item_vectors: np.ndarray, regularization: float) -> np.ndarray:
    """(Y^T Y + lambda I)^-1 for an ALS run: ALS's user factor is (Y^T C_u Y + lambda I)^-1
    Y^T C_u p_u; without the per-viewer Y^T (C_u - I) Y term it is this fixed matrix times
    the viewer's sum of item vectors, which the view path keeps up to date."""
    y = np.asarray(item_vectors, dtype=np.float64)
    return np.linalg.inv(y.T @ y + max(regularization, 1e-6) * np.eye(y.shape[1]))


def viewer_vectors(weights: sparse.csr_matrix, items: np.ndarray) -> np.ndarray:
    """Each viewer's behaviour vector: their weighted sum of item vectors."""
    return np.asarray(weights @ items)


def fit_content_map(content: np.ndarray, behaviour: np.ndarray, ridge: float):
    """Ridge regression content -> behaviour (with intercept), for videos without views."""
    from sklearn.linear_model import Ridge

    from killrvideo_reco.domain.behaviour import ContentMap

    model = Ridge(alpha=ridge, fit_intercept=True).fit(content, behaviour)
    weights = np.vstack([model.coef_.T, model.intercept_[None, :]])
    return ContentMap(weights.astype(np.float64))
