"""In-memory checks with the training code (training/model.py): how sensitive the feed's
quality is to the main settings, on make eval's split and on a random per-user split,
and how well videos nobody trained on are placed by the content map.

Scoring is exact (numpy over the whole catalogue) with the feed's candidate sources and
fitted weights, so these rows isolate the model from the ANN index; the main table's
For You row is the real endpoint through Cassandra."""
from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timezone

import numpy as np

from killrvideo_reco.domain.models import HistoryRow
from killrvideo_reco.domain.vectors import unit_rows
from killrvideo_reco.evaluation import data, metrics
from killrvideo_reco.evaluation.loader import user_uuid, video_uuid
from killrvideo_reco.training.interactions import History
from killrvideo_reco.training.model import TrainingConfig, train
from killrvideo_reco.training.ranker import ViewerCase, candidate_features, latest_first

K = 10
COLD_SHARE = 0.1


def history_of(users: list[data.UserSplit], config: TrainingConfig) -> History:
    history = History()
    rows = []
    for u in users:
        for r in u.train:
            done, plays = data.watch_for_rating(r.rating)
            at = datetime.fromtimestamp(r.at, tz=timezone.utc)
            rows.append((user_uuid(u.user_id), HistoryRow(
                video_uuid(r.movie_id), at, at, plays, done * data.DURATION_S,
                float(data.DURATION_S))))
    history.add_rows(rows, config.params)
    return history


def random_split(ratings: list[data.Rating], seed: int) -> list[data.UserSplit]:
    """Each user's held-out 10 drawn at random instead of the latest 10."""
    rng = random.Random(seed)
    by_user: dict[int, list[data.Rating]] = {}
    for r in ratings:
        by_user.setdefault(r.user_id, []).append(r)
    users = []
    for user_id in sorted(by_user):
        rows = sorted(by_user[user_id], key=lambda r: (r.at, r.movie_id))
        if len(rows) < data.HOLDOUT + data.MIN_TRAIN:
            continue
        held = set(rng.sample(range(len(rows)), data.HOLDOUT))
        test = tuple(r for n, r in enumerate(rows) if n in held)
        relevant = frozenset(r.movie_id for r in test if r.rating >= data.RELEVANT_RATING)
        if relevant:
            users.append(data.UserSplit(user_id, tuple(r for n, r in enumerate(rows)
                                                       if n not in held), test, relevant))
    return users


def score_config(users, movie_ids, content, config: TrainingConfig) -> dict[str, dict]:
    """NDCG@10 etc. of popularity, behaviour only and the two-stage ranking."""
    model = train(history_of(users, config), [video_uuid(m) for m in movie_ids], content, config)
    raw = model.index[:, :-1].astype(np.float64) * model.bound
    unit = unit_rows(content, floor=0.0)
    row_of = {m: i for i, m in enumerate(movie_ids)}
    viewer = {v: i for i, v in enumerate(model.viewer_ids)}
    popular = np.lexsort((np.arange(len(movie_ids)), -model.popularity))
    lists: dict[str, dict] = {"popularity": {}, "behaviour": {}, "two-stage": {}}
    for u in users:
        seen = np.array([row_of[r.movie_id] for r in u.train])
        q = model.query(viewer[user_uuid(u.user_id)])
        positives = [r for r in u.train
                     if data.watch_for_rating(r.rating)[0] >= config.params.bounce_threshold]
        liked = [row_of[r.movie_id] for r in positives]
        pref = unit[liked].sum(axis=0) if len(liked) >= config.params.min_positive_videos else None
        pref = pref / np.linalg.norm(pref) if pref is not None else None
        latest = latest_first(np.array(liked, dtype=np.int64),
                              np.array([float(r.at) for r in positives]),
                              config.sizes.just_watched_videos)
        idx, features = candidate_features(ViewerCase(seen, set(), q, pref, latest), raw,
                                           model.bound, unit, model.popularity, config.sizes)
        ranked = idx[np.lexsort((idx, -model.ranker.score(features)))][:K]
        behaviour = raw @ q
        behaviour[seen] = -np.inf
        seen_set = set(seen.tolist())
        lists["two-stage"][u.user_id] = [movie_ids[i] for i in ranked]
        lists["behaviour"][u.user_id] = [movie_ids[i] for i in
                                         np.argsort(-behaviour, kind="stable")[:K]]
        lists["popularity"][u.user_id] = [movie_ids[i] for i in popular
                                          if i not in seen_set][:K]
    relevant = {u.user_id: set(u.relevant) for u in users}
    vector = lambda m: unit[row_of[m]]  # noqa: E731
    return {name: metrics.summarise(found, relevant, vector, len(movie_ids), K)
            for name, found in lists.items()}


def cold_videos(users, movie_ids, content, config: TrainingConfig, seed: int = 3) -> dict:
    """Keep 10% of the videos out of training (as new uploads are), then rank only those
    for each viewer who liked one of them in the hold-out: by the behaviour vectors the
    content map gave them, by content cosine, and at random."""
    rng = np.random.default_rng(seed)
    cold_rows = set(rng.choice(len(movie_ids), int(COLD_SHARE * len(movie_ids)),
                               replace=False).tolist())
    cold_ids = {video_uuid(movie_ids[i]) for i in cold_rows}
    model = train(history_of(users, config), [video_uuid(m) for m in movie_ids], content,
                  config, exclude=frozenset(cold_ids))
    raw = model.index[:, :-1].astype(np.float64) * model.bound
    unit = unit_rows(content, floor=0.0)
    viewer = {v: i for i, v in enumerate(model.viewer_ids)}
    rows = np.array(sorted(cold_rows))
    row_of = {m: i for i, m in enumerate(movie_ids)}
    out: dict[str, list[float]] = {"behaviour (content map)": [], "content cosine": [],
                                   "random": []}
    for u in users:
        rel = {row_of[m] for m in u.relevant} & cold_rows
        if not rel:
            continue
        seen = {row_of[r.movie_id] for r in u.train}
        pool = np.array([r for r in rows if r not in seen])
        liked = [row_of[r.movie_id] for r in u.train]
        pref = unit[liked].sum(axis=0)
        for name, scores in (("behaviour (content map)",
                              raw[pool] @ model.query(viewer[user_uuid(u.user_id)])),
                             ("content cosine", unit[pool] @ pref),
                             ("random", rng.random(pool.size))):
            top = pool[np.argsort(-scores, kind="stable")[:K]]
            out[name].append(metrics.ndcg_at_k(list(top), rel, K))
    return {"users": len(out["random"]), "cold_videos": len(cold_rows),
            **{name: float(np.mean(v)) if v else 0.0 for name, v in out.items()}}


def sensitivity(dataset: data.Dataset, users, movie_ids, content, base: TrainingConfig,
                grid: list[tuple[str, TrainingConfig]]) -> list[dict]:
    """Rows of (split, setting, popularity / behaviour / two-stage NDCG@10)."""
    splits = [("latest 10 (make eval)", users), ("random 10, seed 1", random_split(
        dataset.ratings, 1))]
    rows = []
    for split_name, split_users in splits:
        for label, config in grid:
            found = score_config(split_users, movie_ids, content, config)
            rows.append({"split": split_name, "setting": label,
                         **{name: m["ndcg"] for name, m in found.items()}})
    return rows


def default_grid(base: TrainingConfig) -> list[tuple[str, TrainingConfig]]:
    f = base.factors
    return [
        (f"default: {f.model}, {f.dimension} factors", base),
        ("svd, 16 factors", replace(base, factors=replace(f, model="svd", dimension=16))),
        ("svd, 64 factors", replace(base, factors=replace(f, model="svd", dimension=64))),
        ("als, 32 factors, alpha 2, reg 1", replace(base, factors=replace(
            f, model="als", dimension=32, alpha=2.0, regularization=1.0))),
        ("als, 64 factors, alpha 20, reg 1 (untuned)", replace(base, factors=replace(
            f, model="als", dimension=64, alpha=20.0, regularization=1.0))),
        ("half-life 30 days", replace(base, params=replace(base.params, half_life_days=30.0))),
    ]
