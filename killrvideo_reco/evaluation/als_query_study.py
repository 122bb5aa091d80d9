"""Viewer vectors for ALS runs, offline: does multiplying the summed query by the run's
(Y^T Y + lambda I)^-1 recover what ALS's own user factors score?

    .venv/bin/python -m killrvideo_reco.evaluation.als_query_study [--data-dir DIR]

On make eval's MovieLens split (each user's latest 10 held out) and a random split, ALS
(`implicit`, the local engine's hyper-parameters) is fitted on the training watches with
the weights `make train` uses; then each user's exact top 10 over every trained item,
their training items excluded, is scored by NDCG@10 for four queries (with the weighted,
ALS-WR penalty of TRAIN_ALS_PENALTY=weighted the fit has no viewer factors: "own factors"
is the sum there), and the cosine
neighbours of their latest positive (the just-watched and related lists) too:

* own factors x_u (what ALS itself would recommend; not available online);
* the sum s_u = sum_i w_ui y_i (today's behaviour vector, kept up to date by each view);
* A^-1 s_u with A = Y^T Y + lambda I (k x k, fixed per run; the sum stays a running sum);
* A^-1 sum_i (1 + alpha w_ui) y_i (the confidence-weighted sum ALS's solve starts from).

x_u = (Y^T C_u Y + lambda I)^-1 Y^T C_u p_u; the corrected query drops the per-user
Y^T (C_u - I) Y term, which is what an online running sum cannot keep.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import replace

import numpy as np

from killrvideo_reco.evaluation import data, metrics
from killrvideo_reco.evaluation.__main__ import DEFAULT_DATA
from killrvideo_reco.evaluation.loader import user_uuid, video_uuid
from killrvideo_reco.evaluation.offline import history_of, random_split
from killrvideo_reco.training.factors import fit_item_vectors
from killrvideo_reco.training.interactions import decayed_weights, matrix
from killrvideo_reco.training.model import TrainingConfig

K = 10
POSITIVE_STARS = 3.5  # a 90%-watched view or more (data.watch_for_rating)


def fit(users: list[data.UserSplit], config: TrainingConfig):
    """(ratings matrix, X, Y, user uuid -> row, item uuid -> column)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from implicit.cpu.als import AlternatingLeastSquares

    history = history_of(users, config)
    u, i, w, t = history.arrays()
    decayed = decayed_weights(u, w, t, history.latest(), config.params)
    ratings = matrix(u, i, decayed, (len(history.users), len(history.items))).tocsr()
    if config.factors.penalty == "weighted":  # the local ALS-WR: item factors only, as served
        return ratings, None, fit_item_vectors(ratings, config.factors), history.users, \
            history.items
    confidence = ratings.astype(np.float32).tocsr(copy=True)
    confidence.data = 1.0 + config.factors.alpha * confidence.data
    f = config.factors
    model = AlternatingLeastSquares(factors=f.dimension, regularization=f.regularization,
                                    alpha=1.0, iterations=f.iterations, random_state=f.seed,
                                    num_threads=1, calculate_training_loss=False)
    model.fit(confidence, show_progress=False)
    return (ratings, np.asarray(model.user_factors, dtype=np.float64),
            np.asarray(model.item_factors, dtype=np.float64), history.users, history.items)


def study(users: list[data.UserSplit], config: TrainingConfig) -> dict[str, float]:
    ratings, x, y, user_row, item_col = fit(users, config)
    return score(users, config, ratings, x, y, user_row, item_col,
                 config.factors.regularization)


def spark_study(users: list[data.UserSplit], config: TrainingConfig,
                reg_params: list[float]) -> dict[float, dict[str, float]]:
    """The same scoring with MLlib's ALS item factors (local[*]) for several regParams:
    MLlib scales the penalty by each row's rating count (ALS-WR), `implicit` does not."""
    from killrvideo_reco.training.spark_engine import fit_item_factors
    from killrvideo_reco.training.spark_session import SparkOptions, start_session

    ratings, _, _, user_row, item_col = fit(users, config)
    coo = ratings.tocoo()
    spark = start_session(SparkOptions(packages=""))
    try:
        frame = spark.createDataFrame(
            [(int(u), int(i), float(r)) for u, i, r in zip(coo.row, coo.col, coo.data)],
            ["user", "item", "rating"])
        found = {}
        for reg in reg_params:
            factors = replace(config.factors, regularization=reg)
            y = fit_item_factors(frame, factors, ratings.shape[1])
            penalty = reg * ratings.nnz / ratings.shape[0]  # the mean viewer's
            found[reg] = score(users, config, ratings, None, y, user_row, item_col, penalty)
        return found
    finally:
        spark.stop()


def score(users, config: TrainingConfig, ratings, x, y, user_row, item_col,
          penalty: float) -> dict[str, float]:
    f = config.factors
    inverse = np.linalg.inv(y.T @ y + penalty * np.eye(y.shape[1]))
    movie_of = {col: m for m, col in ((mid, item_col.get(video_uuid(mid)))
                                      for mid in {r.movie_id for u in users for r in u.train})
                if col is not None}
    movies = np.array([movie_of[c] for c in range(len(item_col))])
    found: dict[str, dict[int, list[int]]] = {name: {} for name in
                                              ("own factors", "sum", "A^-1 sum",
                                               "A^-1 confidence sum", "item to item")}
    unit = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
    for u in users:
        row = ratings.getrow(user_row[user_uuid(u.user_id)])
        seen, w = row.indices, row.data
        summed = w @ y[seen]
        queries = {"own factors": x[user_row[user_uuid(u.user_id)]] if x is not None else summed,
                   "sum": summed,
                   "A^-1 sum": inverse @ summed,
                   "A^-1 confidence sum": inverse @ ((1 + f.alpha * w) @ y[seen])}
        exclude = {item_col[video_uuid(r.movie_id)] for r in u.train
                   if video_uuid(r.movie_id) in item_col}
        for name, q in queries.items():
            scores = y @ q
            scores[list(exclude)] = -np.inf
            found[name][u.user_id] = movies[np.argsort(-scores, kind="stable")[:K]].tolist()
        # The just-watched and related lists: cosine neighbours of the latest positive.
        latest = [item_col[video_uuid(r.movie_id)] for r in u.train
                  if r.rating >= POSITIVE_STARS and video_uuid(r.movie_id) in item_col]
        if latest:
            scores = unit @ unit[latest[-1]]
            scores[list(exclude)] = -np.inf
            found["item to item"][u.user_id] = movies[
                np.argsort(-scores, kind="stable")[:K]].tolist()
    relevant = {u.user_id: set(u.relevant) for u in users}
    return {name: metrics.summarise(lists, relevant, lambda m: np.ones(1), len(item_col), K)
            ["ndcg"] for name, lists in found.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=DEFAULT_DATA)
    ap.add_argument("--spark-reg", default="",
                    help="MLlib regParams to score instead, e.g. 1,0.1,0.01 (needs PySpark)")
    args = ap.parse_args()
    dataset = data.load(args.data_dir)
    latest, _ = data.split_users(dataset.ratings)
    base = TrainingConfig()
    if args.spark_reg:
        config = replace(base, factors=replace(base.factors, model="als"))
        print("| split | MLlib regParam | sum | A^-1 sum | item to item |")
        print("|---|---:|---:|---:|---:|")
        for split, users in (("latest 10 (make eval)", latest),
                             ("random 10, seed 1", random_split(dataset.ratings, 1))):
            regs = [float(r) for r in args.spark_reg.split(",")]
            for reg, ndcg in spark_study(users, config, regs).items():
                print(f"| {split} | {reg:g} | {ndcg['sum']:.4f} | {ndcg['A^-1 sum']:.4f} | "
                      f"{ndcg['item to item']:.4f} |")
        return 0
    print("| split | ALS | own factors | sum | A^-1 sum | A^-1 confidence sum | item to item |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for split, users in (("latest 10 (make eval)", latest),
                         ("random 10, seed 1", random_split(dataset.ratings, 1))):
        for dim, alpha, penalty in ((32, 2.0, "flat"), (32, 2.0, "weighted"),
                                    (64, 20.0, "flat")):
            config = replace(base, factors=replace(base.factors, model="als", dimension=dim,
                                                   alpha=alpha, penalty=penalty))
            ndcg = study(users, config)
            print(f"| {split} | {dim} factors, alpha {alpha:g}, reg "
                  f"{config.factors.regularization:g}, {penalty} penalty | " + " | ".join(
                      f"{ndcg[name]:.4f}" for name in ("own factors", "sum", "A^-1 sum",
                                                       "A^-1 confidence sum",
                                                       "item to item")) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
