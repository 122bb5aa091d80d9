"""Real viewing histories through the public API: MovieLens replayed as view events.

    .venv/bin/python -m bench.replay [--users 250] [--seconds 120] [--concurrency 16]

A fresh keyspace (`bench_replay`) holds the MovieLens catalogue (every movie a video and its
own channel, hashing embeddings). Then `--concurrency` clients each take the next viewer and
post that viewer's ratings in time order as view events (`watchedAt` = the rating's time,
completion from the stars, as `make eval` reads them), full histories, until `--seconds` or
every chosen viewer is done. A non-2xx event is re-sent with the same id, as clients must.
Reports events/s, latency by how long the viewer's history already was, server CPU per
event (app and Cassandra), and the size of the stored taste states. Writes the block
between <!-- replay:begin --> and <!-- replay:end --> in docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from bench import machine, report
from bench.ingest_load import RETRIES, Connection
from bench.loadgen import freeze_client_heap
from bench.server import Server
from killrvideo_reco.auth import mint
from killrvideo_reco.bootstrap import build_stores
from killrvideo_reco.embeddings.factory import build_provider
from killrvideo_reco.evaluation import data, loader
from killrvideo_reco.evaluation.embedding import embed_movies
from killrvideo_reco.settings import Settings
from killrvideo_reco.store import schema
from killrvideo_reco.store.connection import connect

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "datasets" / "ml-latest-small"
BEGIN, END = "<!-- replay:begin -->", "<!-- replay:end -->"
BANDS = ((0, 60, "< 60 watched"), (60, 300, "60-300 watched"), (300, 10**9, ">= 300 watched"))


@dataclass
class Replay:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {b[2]: [] for b in BANDS})
    statuses: dict[int, int] = field(default_factory=dict)
    events: int = 0
    failed: int = 0
    viewers_done: int = 0
    elapsed_s: float = 0.0


def log(message: str) -> None:
    print(f"[replay] {message}", file=sys.stderr, flush=True)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--users", type=int, default=250, help="viewers replayed (first by id)")
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--keyspace", default="bench_replay")
    ap.add_argument("--no-write-docs", dest="write_docs", action="store_false")
    return ap.parse_args(argv)


def band(position: int) -> str:
    return next(name for low, high, name in BANDS if low <= position < high)


async def replay(base_url: str, histories: dict[int, list[data.Rating]], settings: Settings,
                 concurrency: int, seconds: float) -> Replay:
    freeze_client_heap()
    result, queue = Replay(), list(histories)
    deadline = time.perf_counter() + seconds
    host, port = base_url.split("//", 1)[1].split(":")

    async def one_viewer(connection: Connection, user: int) -> None:
        token = f"Bearer {mint(settings, loader.user_uuid(user), ['viewer'], ttl_s=7200)}"
        for position, r in enumerate(histories[user]):
            if time.perf_counter() >= deadline:
                return
            completion, plays = data.watch_for_rating(r.rating)
            body = json.dumps({
                "eventId": f"ml-{user}-{r.movie_id}", "durationS": float(data.DURATION_S),
                "secondsWatched": completion * data.DURATION_S,
                "watchedAt": datetime.fromtimestamp(r.at, timezone.utc).isoformat()}).encode()
            path = f"/api/v1/videos/{loader.video_uuid(r.movie_id)}/views"
            for attempt in range(1, RETRIES + 1):
                start = time.perf_counter()
                try:
                    status, _ = await asyncio.wait_for(connection.post(path, body, token), 30)
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
                    connection.close()
                    status = 0
                result.latencies[band(position)].append((time.perf_counter() - start) * 1e3)
                if 200 <= status < 300:
                    result.events += 1
                    break
                result.statuses[status] = result.statuses.get(status, 0) + 1
                await asyncio.sleep(0.05 * attempt)
            else:
                result.failed += 1
        result.viewers_done += 1

    async def worker() -> None:
        connection = Connection(host, int(port))
        try:
            while queue and time.perf_counter() < deadline:
                await one_viewer(connection, queue.pop(0))
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed_s = time.perf_counter() - started
    return result


def prepare(args, settings: Settings) -> dict[int, list[data.Rating]]:
    dataset = data.load(args.data_dir)
    movies = [dataset.movies[m] for m in sorted(dataset.movies)]
    provider = build_provider(settings)
    vectors, _, _ = embed_movies(provider, movies, args.data_dir, None)
    cluster, session = connect(settings)
    try:
        schema.reset_keyspace(session, settings)
        stores = build_stores(session, settings.cassandra_keyspace)
        asyncio.run(loader.load_catalogue(stores.videos, movies, vectors, provider.model_id,
                                          data.added_times(dataset.ratings)))
    finally:
        cluster.shutdown()
    by_user: dict[int, list[data.Rating]] = {}
    for r in dataset.ratings:
        by_user.setdefault(r.user_id, []).append(r)
    chosen = sorted(by_user)[:args.users]
    return {u: sorted(by_user[u], key=lambda r: (r.at, r.movie_id)) for u in chosen}


def state_sizes(settings: Settings, users) -> tuple[list[int], str]:
    cluster, session = connect(settings)
    try:
        version = session.execute("SELECT release_version FROM system.local").one()[0]
        statement = session.prepare(f"SELECT taste_state FROM {settings.cassandra_keyspace}"
                                    ".viewer_history WHERE userid = ? LIMIT 1")
        sizes = []
        for user in users:
            row = session.execute(statement, (loader.user_uuid(user),)).one()
            if row is not None and row.taste_state is not None:
                sizes.append(len(row.taste_state))
        return sizes, version
    finally:
        cluster.shutdown()


def markdown(args, result: Replay, cpu: dict, sizes: list[int], histories,
             version: str) -> str:
    events, where = max(result.events, 1), machine.describe(version)
    used = cpu["cpu_s"]
    per_event = {k: (v * 1e3 / events if v is not None else None) for k, v in used.items()}
    lengths = [len(h) for h in histories.values()]
    lines = [
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC with `.venv/bin/python -m "
        f"bench.replay --users {args.users} --seconds {args.seconds:g} --concurrency "
        f"{args.concurrency}` on {where['cpu']}, {where['ram']} RAM, Cassandra "
        f"{where['cassandra']}; the service with its shipped defaults. "
        f"{len(histories)} MovieLens viewers (histories of {min(lengths)}-{max(lengths)} "
        f"ratings, median {int(np.median(lengths))}), every movie its own channel.", "",
        f"- {result.events:,} events acknowledged in {result.elapsed_s:.0f} s: "
        f"**{result.events / result.elapsed_s:.0f} events/s**; {result.viewers_done} viewers "
        f"replayed to the end; non-2xx answers (re-sent) {sum(result.statuses.values())} "
        f"{dict(result.statuses) or ''}; never acknowledged {result.failed}",
        "- server CPU per event: app " + report.ms(per_event.get("server") or 0) + " ms, "
        "Cassandra " + report.ms(per_event.get("cassandra") or 0) + " ms (load at start "
        f"{cpu['load_before'][0]:.2f})",
        (f"- stored taste-state heads (channel rows apart): p50 "
         f"{np.percentile(sizes, 50) / 1024:.0f} KB, p90 "
         f"{np.percentile(sizes, 90) / 1024:.0f} KB, max {max(sizes) / 1024:.0f} KB"
         if sizes else "- stored taste states: none read"), "",
        "| history already watched | events | p50 ms | p99 ms |", "|---|---|---|---|"]
    for _, _, name in BANDS:
        values = result.latencies[name]
        if values:
            lines.append(f"| {name} | {len(values):,} | {np.percentile(values, 50):.0f} | "
                         f"{np.percentile(values, 99):.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not (args.data_dir / "ratings.csv").exists():
        raise SystemExit(f"replay: no ratings.csv in {args.data_dir}; pass --data-dir")
    os.environ.setdefault("DEV_MODE", "1")
    settings = Settings(cassandra_keyspace=args.keyspace, vector_dimension=384,
                        embedding_provider="hashing", cassandra_request_timeout_s=30.0)
    log(f"loading the catalogue into {args.keyspace}")
    histories = prepare(args, settings)
    log(f"{len(histories)} viewers, {sum(len(h) for h in histories.values()):,} ratings")
    with Server(args.keyspace) as server:
        sample = machine.CpuSample.start(server=server.pid, cassandra=machine.cassandra_pid(),
                                         client=os.getpid())
        result = asyncio.run(replay(server.base_url, histories, settings, args.concurrency,
                                    args.seconds))
        cpu = sample.stop()
    sizes, version = state_sizes(settings, list(histories))
    block = markdown(args, result, cpu, sizes, histories, version)
    print(block)
    if args.write_docs:
        report.update_doc(REPO / "docs" / "benchmarks.md", block, BEGIN, END,
                          heading="Real histories: MovieLens replayed through the API")
    return 0 if result.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
