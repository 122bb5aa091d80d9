"""Implicit-feedback ALS with the weighted penalty of ALS-WR (Zhou et al. 2008), the
objective Spark MLlib's ALS fits: each row's L2 penalty is regParam times its number of
positive ratings, for viewers and videos alike.

`implicit` (the local engine's ALS) has one flat lambda for every row and no per-row
penalty, so `TRAIN_ALS_PENALTY=weighted` solves the same normal equations as
`implicit.cpu.als.user_linear_equation`, plus the weighted penalty, exactly (Cholesky,
as MLlib does), many rows at once:

    (Y^T Y + Y^T (C_u - I) Y + regParam n_u I) x_u = Y^T C_u p_u,  C_u = 1 + alpha r_u

Y^T (C_u - I) Y for a block of rows is one sparse product with the columns' outer
products (columns x k^2, float32), so memory grows with the catalogue: 4 KB a column at
32 dimensions.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

ROW_BLOCK = 2048  # rows solved at once: a block's (rows, k, k) systems, 8 MB at k = 32


def mean_viewer_reg_param(regularization: float, positives: int, viewers: int) -> float:
    """regParam for a flat-lambda setting: the mean viewer is penalised by lambda, as the
    flat penalty would penalise them: lambda / positives per viewer. TRAIN_REGULARIZATION
    means `implicit`'s flat lambda; the Spark engine passes this to MLlib. (On MovieLens,
    regParam 1 scored NDCG@10 0.0653 where this, about 0.01, scored 0.0834, as `implicit`
    with lambda 1 does: evaluation/als_query_study.py --spark-reg.)"""
    return regularization * max(viewers, 1) / max(positives, 1)


def reg_param(regularization: float, ratings: sparse.spmatrix) -> float:
    return mean_viewer_reg_param(regularization, ratings.nnz,
                                 int((ratings.getnnz(axis=1) > 0).sum()))


def fit_items(ratings: sparse.csr_matrix, k: int, alpha: float, regularization: float,
              iterations: int, seed: int) -> np.ndarray:
    """(n_items, k) item factors of a viewers x videos weight matrix (weights > 0)."""
    r = sparse.csr_matrix(ratings, dtype=np.float64)
    r.eliminate_zeros()
    rt = r.T.tocsr()
    lam = reg_param(regularization, r)
    rng = np.random.default_rng(seed)
    # As MLlib starts: Gaussian rows scaled to unit length.
    items = rng.standard_normal((r.shape[1], k))
    items /= np.maximum(np.linalg.norm(items, axis=1, keepdims=True), 1e-12)
    for _ in range(iterations):
        users = solve_rows(r, items, alpha, lam)
        items = solve_rows(rt, users, alpha, lam)
    return items


def solve_rows(r: sparse.csr_matrix, other: np.ndarray, alpha: float,
               lam: float) -> np.ndarray:
    """Every row's least-squares factor given the other side's factors."""
    k = other.shape[1]
    gram = other.T @ other
    single = other.astype(np.float32)
    outer = np.einsum("ij,ik->ijk", single, single).reshape(-1, k * k)
    confidence_less_one = r.copy()
    confidence_less_one.data = alpha * r.data
    weighted = r.copy()
    weighted.data = 1.0 + alpha * r.data  # C_u p_u: p = 1 where rated
    counts = np.diff(r.indptr)
    out = np.zeros((r.shape[0], k))
    diagonal = np.arange(k)
    for start in range(0, r.shape[0], ROW_BLOCK):
        rows = slice(start, min(start + ROW_BLOCK, r.shape[0]))
        systems = np.asarray(confidence_less_one[rows] @ outer, dtype=np.float64)
        systems = systems.reshape(-1, k, k) + gram
        systems[:, diagonal, diagonal] += np.maximum(lam * counts[rows], 1e-9)[:, None]
        rhs = np.asarray(weighted[rows] @ other)
        out[rows] = np.linalg.solve(systems, rhs[..., None])[..., 0]
    out[counts == 0] = 0.0  # no positive: no factor (MLlib leaves such rows out)
    return out
