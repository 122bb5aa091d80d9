"""Benchmark of the batch profile rebuild (`make profiles`): users/s and memory.

    python -m bench.profile_rebuild_bench [--users 1000 4000] [--history 50]

Seeds a keyspace per user count (5,000 synthetic 384-d videos; each user watched
--history of them), then runs the same rebuild the CLI runs and reports users/s and
each run's peak RSS (a fresh process per run), to show memory does not grow with users.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import numpy as np
from cassandra.concurrent import execute_concurrent_with_args

from killrvideo_reco.bootstrap import build_resources
from killrvideo_reco.domain.models import NewVideo
from killrvideo_reco.embeddings.factory import build_provider
from killrvideo_reco.jobs.profiles import rebuild_profiles
from killrvideo_reco.settings import Settings
from killrvideo_reco.store import schema
from killrvideo_reco.store.connection import connect

CATALOGUE = 5000
MODEL = "bench-synthetic:384"


def seed(settings: Settings, users: int, history: int) -> None:
    cluster, session = connect(settings)
    try:
        schema.apply_migrations(session, settings)
        ks = settings.cassandra_keyspace
        marker = session.execute(f"SELECT value FROM {ks}.service_metadata WHERE name='bench'").one()
        wanted = f"{users}x{history}"
        if marker and marker.value == wanted:
            return
        rng = np.random.default_rng(1)
        centres = rng.normal(size=(50, 384))
        vectors = centres[rng.integers(0, 50, CATALOGUE)] + rng.normal(size=(CATALOGUE, 384)) * 0.5
        vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
        ids = [uuid.uuid4() for _ in range(CATALOGUE)]
        resources = build_resources(settings, build_provider(settings))
        now = datetime.now(timezone.utc)

        async def add_all():
            for start in range(0, CATALOGUE, 100):
                await asyncio.gather(*(resources.videos.add(NewVideo(
                    ids[i], uuid.UUID(int=i % 97 + 1), f"video {i}", "", ("bench",), None, now,
                    None, 600, vectors[i], MODEL)) for i in range(start, min(start + 100, CATALOGUE))))
            await resources.videos.set_catalogue_model(MODEL)

        asyncio.run(add_all())
        resources.close()
        insert = session.prepare(
            f"INSERT INTO {ks}.viewer_history (userid, videoid, first_watched, last_watched, "
            "play_count, seconds_watched, duration_s) VALUES (?, ?, ?, ?, 1, ?, 600)")
        rows = []
        for _ in range(users):
            user = uuid.uuid4()
            for video in rng.choice(CATALOGUE, size=history, replace=False):
                when = now - timedelta(days=int(rng.integers(0, 400)))
                rows.append((user, ids[video], when, when, float(rng.uniform(10, 650))))
        execute_concurrent_with_args(session, insert, rows, concurrency=64)
        session.execute(f"INSERT INTO {ks}.service_metadata (name, value) VALUES ('bench', %s)",
                        (wanted,))
    finally:
        cluster.shutdown()


def measure(settings: Settings, parallelism: int) -> dict:
    """Runs in a fresh process (see main), so its peak RSS is this rebuild's alone."""
    resources = build_resources(settings, build_provider(settings))
    try:
        started = time.monotonic()
        summary = asyncio.run(rebuild_profiles(resources.videos, resources.viewers,
                                               resources.activity, parallelism=parallelism))
        elapsed = time.monotonic() - started
    finally:
        resources.close()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {**summary, "wallSeconds": round(elapsed, 2), "peakRssMiB": round(peak_kib / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--history", type=int, default=50)
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--measure-only", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_only:
        print(json.dumps(measure(settings_for(args.measure_only), args.parallelism)))
        return
    for users in args.users:
        seed(settings_for(users), users, args.history)
        child = subprocess.run(
            [sys.executable, "-m", "bench.profile_rebuild_bench", "--measure-only", str(users),
             "--parallelism", str(args.parallelism)], capture_output=True, text=True, check=True)
        result = {**json.loads(child.stdout.strip().splitlines()[-1]), "seededUsers": users,
                  "historyPerUser": args.history}
        print(json.dumps(result), flush=True)


def settings_for(users: int) -> Settings:
    return Settings(cassandra_keyspace=f"bench_profiles_{users}", embedding_provider="hashing")


if __name__ == "__main__":
    main()
