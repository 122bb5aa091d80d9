"""How long a viewer's kept nearest list (FEED_VIEWER_NEAREST) still answers their query,
offline, on real histories: what FEED_VIEWER_NEAREST_MIN_COSINE trades.

    .venv/bin/python -m killrvideo_reco.evaluation.kept_list_study [--data-dir DIR]

On make eval's MovieLens split (each user's latest 10 held out) and a random split, the
behaviour space is fitted as `make train` fits it (PureSVD, the default, and ALS with its
query map), on the training watches. For each user and k in KS, the list a page 1 would
have kept k positive views before the end of their training history (the top
`source_depth` videos for the query of that prefix: decayed sum, times the run's query map
for ALS) is compared with what a fresh ANN query gives at the end:

* cosine: between the two queries (what the rule compares with the threshold);
* recall: of the behaviour source's 100 unseen rows from a fresh query, the share the
  kept list's rows hold (each as retrieval serves them: a source seen through is widened
  by an ANN query either way; a list too shallow for the viewer's history now is not
  reused, and not counted);
* NDCG@10 of the behaviour source alone (the first 10 unseen, by the current query), from
  the fresh answer and from the kept list, against the held-out videos.

Printed by cosine band, then per k the share of page 1s a threshold lets reuse a list.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import replace

import numpy as np

from killrvideo_reco.domain.feed_rules import source_depth
from killrvideo_reco.evaluation import data, metrics
from killrvideo_reco.evaluation.__main__ import DEFAULT_DATA
from killrvideo_reco.evaluation.loader import user_uuid, video_uuid
from killrvideo_reco.evaluation.offline import history_of, random_split
from killrvideo_reco.training.factors import fit_item_vectors
from killrvideo_reco.training.interactions import decayed_weights, matrix
from killrvideo_reco.training.model import TrainingConfig

KS = (1, 2, 5, 10, 20)  # positive views between the kept list and the page 1
WANTED = 100  # the behaviour source's rows (CandidateSizes.behaviour)
BANDS = (0.9, 0.95, 0.98, 0.99, 0.995)
THRESHOLDS = (0.95, 0.98, 0.99)


def study(users: list[data.UserSplit], config: TrainingConfig) -> list[dict]:
    """One row per (user, k): cosine, recall and both NDCG@10s."""
    history = history_of(users, config)
    u, i, w, t = history.arrays()
    latest = history.latest()
    ratings = matrix(u, i, decayed_weights(u, w, t, latest, config.params),
                     (len(history.users), len(history.items))).tocsr()
    y = fit_item_vectors(ratings, config.factors)
    query_map = None
    if config.factors.model == "als":  # as training/model.py's run: (Y^T Y + lambda I)^-1
        query_map = np.linalg.inv(y.T @ y + config.factors.regularization * np.eye(y.shape[1]))
    movie_of = {col: video for video, col in history.items.items()}
    order = np.argsort(u, kind="stable")
    starts = np.searchsorted(u[order], np.arange(len(history.users) + 1))
    rows = []
    for user in users:
        row = history.users.get(user_uuid(user.user_id))
        if row is None:
            continue
        mine = order[starts[row]:starts[row + 1]]
        mine = mine[np.argsort(t[mine], kind="stable")]  # oldest first
        seen = {history.items[video_uuid(r.movie_id)] for r in user.train
                if video_uuid(r.movie_id) in history.items}
        relevant = {video_uuid(m) for m in user.relevant}

        def query(events: np.ndarray) -> np.ndarray:
            weights = decayed_weights(np.zeros(len(events), dtype=np.int32), w[events],
                                      t[events], np.array([t[events].max()]), config.params)
            q = weights @ y[i[events]]
            return query_map @ q if query_map is not None else q

        now = query(mine)
        scores = y @ now
        ranked_now = np.argsort(-scores, kind="stable")
        depth_now = source_depth(WANTED, len(mine), 1000)
        fresh = _served(ranked_now, scores, seen, depth_now)
        for k in KS:
            if len(mine) <= k + 1:
                continue
            before = query(mine[:-k])
            depth = source_depth(WANTED, len(mine) - k, 1000)
            if depth + WANTED // 4 < depth_now:
                continue  # too shallow: the rule queries afresh whatever the cosine
            kept = np.argsort(-(y @ before), kind="stable")[:depth]
            from_kept = _served(ranked_now, scores, seen, depth_now, kept)
            cosine = float(before @ now / (np.linalg.norm(before) * np.linalg.norm(now)))
            rows.append({
                "k": k, "cosine": cosine,
                "recall": len(set(fresh) & set(from_kept)) / max(len(fresh), 1),
                "ndcg fresh": metrics.ndcg_at_k([movie_of[c] for c in fresh[:10]], relevant, 10),
                "ndcg kept": metrics.ndcg_at_k([movie_of[c] for c in from_kept[:10]],
                                               relevant, 10)})
    return rows


def _served(ranked_now: np.ndarray, scores: np.ndarray, seen: set[int], depth: int,
            kept: np.ndarray | None = None) -> list[int]:
    """The behaviour source's rows as retrieval serves them: the kept list or the ANN's
    top `depth`, widened twice as deep by the current query while under a quarter of
    WANTED is unseen (feed_rules.source_short), rescored, the first WANTED unseen."""
    ids = kept if kept is not None else ranked_now[:depth]
    limit = len(ids) if kept is not None else depth
    while True:
        unseen = [c for c in ids.tolist() if c not in seen]
        if not (len(ids) >= limit and len(unseen) * 4 < WANTED and limit < 1000):
            break
        limit = min(1000, 2 * limit)
        ids = ranked_now[:limit]
    unseen.sort(key=lambda c: -scores[c])
    return unseen[:WANTED]


def report(rows: list[dict]) -> list[str]:
    lines = ["| cosine band | page 1s | recall of the 100 rows | NDCG@10 fresh | NDCG@10 kept |",
             "|---|---:|---:|---:|---:|"]
    edges = (-1.0, *BANDS, 1.0 + 1e-9)
    for low, high in zip(edges, edges[1:]):
        band = [r for r in rows if low <= r["cosine"] < high]
        if band:
            lines.append(f"| [{low:g}, {min(high, 1.0):g}) | {len(band)} | "
                         f"{np.mean([r['recall'] for r in band]):.3f} | "
                         f"{np.mean([r['ndcg fresh'] for r in band]):.4f} | "
                         f"{np.mean([r['ndcg kept'] for r in band]):.4f} |")
    lines += ["", "| views since the list | " + " | ".join(
        f"reused at {x:g} (recall, NDCG kept / fresh)" for x in THRESHOLDS) + " |",
        "|---:|" + "---|" * len(THRESHOLDS)]
    for k in KS:
        of_k = [r for r in rows if r["k"] == k]
        cells = []
        for x in THRESHOLDS:
            used = [r for r in of_k if r["cosine"] >= x]
            cells.append(f"{len(used) / max(len(of_k), 1):.0%} ({np.mean([r['recall'] for r in used]):.3f}, "
                         f"{np.mean([r['ndcg kept'] for r in used]):.4f} / "
                         f"{np.mean([r['ndcg fresh'] for r in used]):.4f})" if used else "0%")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=DEFAULT_DATA)
    args = ap.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    dataset = data.load(args.data_dir)
    latest, _ = data.split_users(dataset.ratings)
    base = TrainingConfig()
    for split, users in (("latest 10 (make eval)", latest),
                         ("random 10, seed 1", random_split(dataset.ratings, 1))):
        for name, config in (("PureSVD (default)", base),
                             ("ALS, query map", replace(base, factors=replace(
                                 base.factors, model="als")))):
            print(f"\n### {split}, {name}\n")
            print("\n".join(report(study(users, config))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
