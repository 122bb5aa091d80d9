"""Training cost of both engines on the same synthetic history: seconds and peak memory
of the fit (history -> item vectors, ranking weights, content map, every viewer's
vector), without Cassandra, so the engines are compared on their own work.

    .venv-spark/bin/python -m bench.spark_train_bench --engine local
    .venv-spark/bin/python -m bench.spark_train_bench --engine spark --master spark://127.0.0.1:7077

History: `--viewers` x `--per-viewer` positive watches (70% in three favourite clusters
of 200) over `--videos` videos with clustered 384-d content vectors, generated per viewer
(the same rows for both engines; Spark generates them on the executors). Local: History +
model.train, as `make train` runs them. Spark: spark_engine.train_on_spark, ALS in MLlib,
and the viewers' vectors computed (counted, not written). Peak memory: this process's
RSS (the Spark driver's Python), and for Spark the driver JVM's and each executor's
(JVM + its Python workers), read from /proc (a local cluster: same machine).
"""
from __future__ import annotations

import argparse
import os
import resource
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from killrvideo_reco.domain.models import HistoryRow
from killrvideo_reco.training.interactions import History
from killrvideo_reco.training.model import TrainingConfig, train

CLUSTERS, NOW = 200, datetime(2026, 11, 1, tzinfo=timezone.utc)


def catalogue(videos: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, CLUSTERS, size=videos)
    centres = rng.normal(size=(CLUSTERS, 384))
    content = (centres[cluster] + rng.normal(size=(videos, 384))).astype(np.float32)
    return [uuid.UUID(int=i + 1) for i in range(videos)], cluster, content


def viewer_rows(viewer: int, per_viewer: int, members: list[np.ndarray], videos: int,
                seed: int = 1) -> list[tuple[uuid.UUID, HistoryRow]]:
    """One viewer's history, from a generator seeded by (seed, viewer)."""
    rng = np.random.default_rng((seed, viewer))
    user = uuid.UUID(int=10 ** 9 + viewer)
    pool = np.concatenate([members[c] for c in rng.choice(CLUSTERS, 3, replace=False)])
    picks = set(rng.choice(pool, min(len(pool), int(per_viewer * 0.7)), replace=False).tolist())
    while len(picks) < per_viewer:
        picks.add(int(rng.integers(0, videos)))
    rows = []
    for i in sorted(picks):
        at = NOW - timedelta(days=float(rng.uniform(0, 365)))
        rows.append((user, HistoryRow(uuid.UUID(int=i + 1), at, at, 1, 500.0, 600.0)))
    return rows


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def executors(app_id: str) -> dict[str, float]:
    """Executor id -> peak RSS (MB) of its JVM plus its Python workers, now."""
    found: dict[str, float] = {}
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    parents = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            parents[pid] = int(stat.rsplit(")", 1)[1].split()[1])
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"org.apache.spark.executor.CoarseGrainedExecutorBackend" in cmd and \
                app_id.encode() in cmd:
            found[cmd[cmd.index(b"--executor-id") + 1].decode()] = pid
    out = {}
    for executor, jvm in found.items():
        family = {jvm}
        for _ in range(3):  # the Python daemon and the workers it forks
            family |= {p for p, parent in parents.items() if parent in family}
        out[executor] = sum(peak_rss_mb(p) for p in family if Path(f"/proc/{p}").exists())
    return out


def heap_peaks(sc) -> dict[str, float]:
    """Peak JVM heap used (MB) of the driver and each executor, from Spark's REST API."""
    import json
    import urllib.request

    url = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/allexecutors"
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            found = json.load(answer)
    except OSError:
        return {}
    return {f"{e['id']} heap used": e.get("peakMemoryMetrics", {}).get("JVMHeapMemory", 0) / 2**20
            for e in found}


def run_local(args, video_ids, members, content, config) -> dict:
    history = History()
    for viewer in range(args.viewers):
        history.add_rows(viewer_rows(viewer, args.per_viewer, members, args.videos), config.params)
    start = time.perf_counter()
    model = train(history, video_ids, content, config)
    return {"seconds": time.perf_counter() - start, "positives": history.positives,
            "trained": model.trained_videos, "quality": model.quality}


def run_spark(args, video_ids, members, content, config) -> dict:
    from killrvideo_reco.training.spark_engine import train_on_spark
    from killrvideo_reco.training.spark_session import SparkOptions, start_session

    spark = start_session(SparkOptions(
        master=args.master, driver_memory=args.driver_memory,
        executor_memory=args.executor_memory, partitions=args.partitions,
        extra="spark.executor.processTreeMetrics.enabled=true"))
    try:
        sc = spark.sparkContext
        per_viewer, n_videos = args.per_viewer, args.videos
        shared = sc.broadcast(members)
        history = sc.parallelize(range(args.viewers), args.partitions or None).flatMap(
            lambda v: viewer_rows(v, per_viewer, shared.value, n_videos))
        start = time.perf_counter()
        run = train_on_spark(spark, history, video_ids, content, config)
        viewers = run.viewer_vectors.count()
        seconds = time.perf_counter() - start
        memory = {"driver JVM": peak_rss_mb(sc._gateway.proc.pid),  # noqa: SLF001
                  **{f"executor {k}": v for k, v in sorted(executors(sc.applicationId).items())}}
        memory.update(heap_peaks(sc))
        return {"seconds": seconds, "positives": run.quality["positives"], "viewers": viewers,
                "trained": run.trained_videos, "quality": run.quality, "memory": memory}
    finally:
        spark.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", choices=("local", "spark"), required=True)
    ap.add_argument("--viewers", type=int, default=50_000)
    ap.add_argument("--per-viewer", type=int, default=20)
    ap.add_argument("--videos", type=int, default=100_000)
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--driver-memory", default="1g")
    ap.add_argument("--executor-memory", default="1g")
    ap.add_argument("--partitions", type=int, default=0)
    args = ap.parse_args()
    video_ids, cluster, content = catalogue(args.videos)
    members = [np.flatnonzero(cluster == c) for c in range(CLUSTERS)]
    # Both engines: ALS with the same hyper-parameters (the Spark engine trains ALS only).
    base = TrainingConfig()
    config = replace(base, factors=replace(base.factors, model="als"))
    found = (run_local if args.engine == "local" else run_spark)(
        args, video_ids, members, content, config)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    millions = found["positives"] / 1e6
    print(f"{args.engine} ({args.master if args.engine == 'spark' else 'implicit ALS'}): "
          f"{found['positives']:,} positive watches, {args.viewers:,} viewers, "
          f"{args.videos:,} videos; fit {found['seconds']:.1f}s = "
          f"{found['seconds'] / millions:.1f} s per million watches; "
          f"{found['trained']:,} videos trained")
    print(f"peak RSS: this process (driver Python) {peak:.0f} MB" + "".join(
        f"; {name} {mb:.0f} MB" for name, mb in found.get("memory", {}).items()))
    print("hold-out NDCG@10: " + ", ".join(f"{k.split()[-1]} {v}" for k, v in
                                           found["quality"].items() if k.startswith("ndcg")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
