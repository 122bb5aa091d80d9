"""Feed shaping with and without, in memory (exact scoring, as evaluation/offline.py):
the two-stage ranking unshaped, then with interests (one content query per interest and
the first-block coverage rule), then with MMR at several lambdas. NDCG@10, intra-list
diversity, coverage, and the share of viewers with >= 2 interests whose top 10 holds
items of >= 2 of them. MovieLens has no creators or upload dates, so the creator cap
and the freshness boost are off here (they are unit-tested)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from killrvideo_reco.domain import interests as interest_clusters
from killrvideo_reco.domain.shaping import UNSHAPED, shape
from killrvideo_reco.domain.taste_weights import RecentPositive, decay, trim_recent
from killrvideo_reco.domain.vectors import unit_rows
from killrvideo_reco.evaluation import data, metrics
from killrvideo_reco.evaluation.loader import user_uuid, video_uuid
from killrvideo_reco.evaluation.offline import history_of, random_split
from killrvideo_reco.training.model import TrainingConfig, train
from killrvideo_reco.training.ranker import just_watched, latest_first, top_unseen

K = 10
LAMBDAS = (0.9, 0.8, 0.7, 0.6, 0.5)
MAX_DROP = 0.03  # the default lambda may cost at most 3% NDCG@10


def study(dataset: data.Dataset, users, movie_ids, content, config: TrainingConfig) -> list[dict]:
    rows = []
    for split, split_users in (("latest 10 (make eval)", users),
                               ("random 10, seed 1", random_split(dataset.ratings, 1))):
        rows += [{"split": split, **row}
                 for row in _one_split(split_users, movie_ids, content, config)]
    return rows


def default_lambda(rows: list[dict]) -> float | None:
    """The lowest lambda whose NDCG@10 is within MAX_DROP of the unshaped ranking on
    every split (lower = more diverse)."""
    ok = []
    for lam in LAMBDAS:
        fine = True
        for split in {r["split"] for r in rows}:
            base = next(r for r in rows if r["split"] == split and r["lambda"] is None)
            got = next(r for r in rows if r["split"] == split and r["lambda"] == lam)
            fine &= got["ndcg"] >= base["ndcg"] * (1 - MAX_DROP)
        if fine:
            ok.append(lam)
    return min(ok) if ok else None


def _one_split(users, movie_ids, content, config: TrainingConfig) -> list[dict]:
    model = train(history_of(users, config), [video_uuid(m) for m in movie_ids], content, config)
    raw = model.index[:, :-1].astype(np.float64) * model.bound
    unit = unit_rows(content, floor=0.0)
    row_of = {m: i for i, m in enumerate(movie_ids)}
    viewer = {v: i for i, v in enumerate(model.viewer_ids)}
    params, sizes = config.params, config.sizes
    variants = [("two-stage, unshaped", False, None), ("+ interests", True, None)] + [
        (f"+ interests + MMR lambda {lam}", True, lam) for lam in LAMBDAS]
    lists: dict[str, dict[int, list[int]]] = {name: {} for name, _, _ in variants}
    multi, covered = 0, {name: 0 for name, _, _ in variants}
    for u in users:
        seen = np.array([row_of[r.movie_id] for r in u.train])
        q = model.query(viewer[user_uuid(u.user_id)])
        liked = [r for r in u.train
                 if data.watch_for_rating(r.rating)[0] >= params.bounce_threshold]
        rows = [row_of[r.movie_id] for r in liked]
        pref = unit[rows].sum(axis=0) if len(rows) >= params.min_positive_videos else None
        pref = pref / np.linalg.norm(pref) if pref is not None else None
        recent, _ = trim_recent([RecentPositive(video_uuid(r.movie_id), "", float(r.at),
                                      unit[row_of[r.movie_id]]) for r in liked],
                                -np.inf, params.recent_positive_kept)
        ref = max((float(r.at) for r in u.train), default=0.0)
        found = interest_clusters.cluster(recent, ref, lambda age: decay(age, params),
                                          params.interest_count, params.interest_similarity)
        b = raw @ q / (np.linalg.norm(q) * model.bound) if np.linalg.norm(q) > 0 else 0 * raw[:, 0]
        c = unit @ pref if pref is not None else np.zeros(len(movie_ids))
        latest = latest_first(np.array(rows, dtype=np.int64),
                              np.array([float(r.at) for r in liked]), sizes.just_watched_videos)
        co_watched, co_lists = just_watched(latest, raw, model.bound, sizes)
        features = np.stack([b, c, model.popularity, co_watched], axis=1)
        score = model.ranker.score(features)
        if len(found) >= 2:
            multi += 1
        for name, with_interests, lam in variants:
            by_interest = with_interests and len(found) >= 2
            queries = [i.medoid.astype(np.float64) for i in found] if by_interest else [pref]
            rows_per_query = (interest_clusters.allocate(found, sizes.content) if by_interest
                              else [sizes.content])
            idx = top_unseen(seen, [(b, sizes.behaviour)] + [
                (unit @ v, n) for v, n in zip(queries, rows_per_query) if v is not None]
                + [(model.popularity, sizes.popular)]
                + [(scores, sizes.just_watched_rows) for scores in co_lists])
            order = idx[np.lexsort((idx, -score[idx]))]
            labels = (interest_clusters.label(found, unit[order], params.interest_similarity)
                      if with_interests else np.full(order.size, -1))
            shaping = (UNSHAPED if lam is None and not with_interests
                       else replace(UNSHAPED, diversity_lambda=lam or 1.0))
            picked = shape(score[order], unit[order], [None] * order.size,
                           np.full(order.size, np.nan), labels, 0.0, shaping)[:K]
            top = order[picked]
            lists[name][u.user_id] = [movie_ids[i] for i in top]
            if len(found) >= 2:
                hit = interest_clusters.label(found, unit[top], params.interest_similarity)
                covered[name] += len({int(x) for x in hit if x >= 0}) >= 2
    relevant = {u.user_id: set(u.relevant) for u in users}
    vector = lambda m: unit[row_of[m]]  # noqa: E731
    out = []
    for name, _, lam in variants:
        m = metrics.summarise(lists[name], relevant, vector, len(movie_ids), K)
        out.append({"variant": name, "lambda": lam, "ndcg": m["ndcg"], "ild": m["diversity"],
                    "coverage": m["coverage"], "multi_interest_viewers": multi,
                    "two_interests_in_top10": covered[name] / multi if multi else 0.0})
    return out
