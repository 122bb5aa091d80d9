"""Training cost: seconds and peak memory of training/model.train on a synthetic history
of about a million positive watches (clustered tastes over 100k videos), in memory.

    .venv/bin/python -m bench.train_bench [--viewers 50000] [--per-viewer 20] [--videos 100000]

Reading history from Cassandra and writing vectors come on top; `make train` prints the
whole run's time, and docs/benchmarks.md quotes both."""
from __future__ import annotations

import argparse
import resource
import time
import uuid
from datetime import datetime, timedelta, timezone

import numpy as np

from killrvideo_reco.domain.models import HistoryRow
from killrvideo_reco.training.interactions import History
from killrvideo_reco.training.model import TrainingConfig, train


def synthetic(viewers: int, per_viewer: int, videos: int, clusters: int = 200, seed: int = 1):
    rng = np.random.default_rng(seed)
    video_ids = [uuid.UUID(int=i + 1) for i in range(videos)]
    cluster = rng.integers(0, clusters, size=videos)
    members = [np.flatnonzero(cluster == c) for c in range(clusters)]
    centres = rng.normal(size=(clusters, 384))
    content = (centres[cluster] + rng.normal(size=(videos, 384))).astype(np.float32)
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    history = History()
    params = TrainingConfig().params
    batch = []
    for v in range(viewers):
        user = uuid.UUID(int=10 ** 9 + v)
        favourite = rng.choice(clusters, 3, replace=False)
        pool = np.concatenate([members[c] for c in favourite])
        picks = set(rng.choice(pool, min(len(pool), int(per_viewer * 0.7)), replace=False))
        while len(picks) < per_viewer:
            picks.add(int(rng.integers(0, videos)))
        for _n, i in enumerate(picks):
            at = now - timedelta(days=float(rng.uniform(0, 365)))
            batch.append((user, HistoryRow(video_ids[i], at, at, 1, 500.0, 600.0)))
        if len(batch) >= 100_000:
            history.add_rows(batch, params)
            batch = []
    history.add_rows(batch, params)
    return history, video_ids, content


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--viewers", type=int, default=50_000)
    ap.add_argument("--per-viewer", type=int, default=20)
    ap.add_argument("--videos", type=int, default=100_000)
    args = ap.parse_args()
    start = time.perf_counter()
    history, video_ids, content = synthetic(args.viewers, args.per_viewer, args.videos)
    built = time.perf_counter() - start
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    model = train(history, video_ids, content, TrainingConfig())
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    millions = history.positives / 1e6
    print(f"history: {history.positives:,} positive watches, {len(history.users):,} viewers, "
          f"{args.videos:,} videos (built in {built:.1f}s; RSS {rss_before:.0f} MB after)")
    print(f"train: {seconds:.1f}s = {seconds / millions:.1f} s per million watches; "
          f"process peak RSS {peak:.0f} MB; {model.trained_videos:,} videos trained")
    print("hold-out NDCG@10: " + ", ".join(f"{k.split()[-1]} {v}" for k, v in
                                               model.quality.items() if k.startswith("ndcg")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
