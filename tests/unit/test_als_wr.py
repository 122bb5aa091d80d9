"""training/als_wr.py: ALS with MLlib's weighted penalty, checked against `implicit`'s own
normal equations with the penalty added row by row."""
from __future__ import annotations

import numpy as np
from implicit.cpu.als import user_linear_equation
from scipy import sparse

from killrvideo_reco.training import als_wr
from killrvideo_reco.training.factors import FactorConfig, fit_item_vectors


def ratings(seed: int = 3, shape=(40, 25), density=0.2) -> sparse.csr_matrix:
    m = sparse.random(*shape, density=density, random_state=seed, format="csr")
    m.data = 0.2 + m.data  # weights > 0
    return m


def test_each_row_solves_implicits_equations_plus_its_weighted_penalty():
    r, alpha, lam, k = ratings(), 2.0, 0.05, 4
    other = np.random.default_rng(1).normal(size=(r.shape[1], k))
    confidence = r.copy()
    confidence.data = 1.0 + alpha * r.data
    got = als_wr.solve_rows(r, other, alpha, lam)
    for u in range(r.shape[0]):
        n = r.indptr[u + 1] - r.indptr[u]
        if n == 0:
            assert not got[u].any()
            continue
        a, b = user_linear_equation(other, other.T @ other, confidence, u, 0.0, k)
        expected = np.linalg.solve(a + lam * n * np.eye(k), b)
        np.testing.assert_allclose(got[u], expected, rtol=1e-5, atol=1e-7)


def weighted_loss(r, users, items, alpha, lam) -> float:
    dense = r.toarray()
    scores = users @ items.T
    confidence = 1.0 + alpha * dense
    fit = (confidence * ((dense > 0) - scores) ** 2).sum()
    return float(fit + lam * ((dense > 0).sum(axis=1) @ (users ** 2).sum(axis=1)
                              + (dense > 0).sum(axis=0) @ (items ** 2).sum(axis=1)))


def test_more_iterations_lower_the_weighted_objective_and_a_seed_repeats():
    r, alpha = ratings(5, (60, 30)), 2.0
    lam = als_wr.reg_param(1.0, r)
    assert np.isclose(lam, 60 / r.nnz)  # every viewer has a positive here
    losses = []
    for iterations in (1, 3, 10):
        items = als_wr.fit_items(r, 4, alpha, 1.0, iterations, seed=7)
        users = als_wr.solve_rows(r, items, alpha, lam)
        losses.append(weighted_loss(r, users, items, alpha, lam))
    assert losses[0] > losses[1] > losses[2]
    np.testing.assert_array_equal(als_wr.fit_items(r, 4, alpha, 1.0, 3, seed=7),
                                  als_wr.fit_items(r, 4, alpha, 1.0, 3, seed=7))


def test_the_factor_config_chooses_the_penalty():
    r = ratings(9, (50, 30))
    flat = fit_item_vectors(r, FactorConfig("als", 4, iterations=3))
    weighted = fit_item_vectors(r, FactorConfig("als", 4, iterations=3, penalty="weighted"))
    assert flat.shape == weighted.shape == (30, 4)
    np.testing.assert_allclose(weighted, als_wr.fit_items(r, 4, 2.0, 1.0, 3, 7))
    assert not np.allclose(flat, weighted)
