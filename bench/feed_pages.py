"""Page 1 against page 2 of the For You feed: what the ranked-list cache saves, and what
page 1 costs again within a browsing session, after a view.

    .venv/bin/python -m bench.feed_pages [--users 200] [--no-write-docs]

On bench_10k (seeded and trained by `make bench`), served with the shipped defaults: each
viewer asks for page 1 (a miss: the whole two-stage pipeline), then page 2 (a hit: the
profile read, shaping up to the page's end and the page's summaries); then each watches
page 1's first video (a view event) and asks for page 1 again, which the view made a
miss: the pipeline again, but with what the session already put in the replica's caches
(the viewer's over-shown set, the referenced videos, candidates' features). One request
at a time, so latency is the service's own. Server CPU per request is the app's and
Cassandra's CPU over each phase divided by its requests. Writes the block between
<!-- pages:begin --> and <!-- pages:end --> in docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx

from bench import machine, report, seed
from bench.loadgen import freeze_client_heap
from bench.server import Server
from killrvideo_reco.auth import mint
from killrvideo_reco.store.connection import connect

REPO = Path(__file__).resolve().parents[1]
KEYSPACE = "bench_10k"
BEGIN, END = "<!-- pages:begin -->", "<!-- pages:end -->"


def phase(client: httpx.Client, server: Server, tokens: dict, page: int,
          firsts: dict | None = None) -> dict:
    """Page `page` for every viewer; `firsts` gets each viewer's first item."""
    freeze_client_heap()
    sample = machine.CpuSample.start(server=server.pid, cassandra=machine.cassandra_pid())
    latencies, sources = [], {}
    for user, token in tokens.items():
        started = time.perf_counter()
        response = client.get("/api/v1/recommendations/foryou",
                              params={"page": page, "pageSize": 10},
                              headers={"Authorization": f"Bearer {token}"})
        latencies.append(1000 * (time.perf_counter() - started))
        body = response.json() if response.status_code == 200 else {"source": "error"}
        sources[body["source"]] = sources.get(body["source"], 0) + 1
        if firsts is not None and body.get("items"):
            firsts[user] = body["items"][0]["videoId"]
    return summary(sample, latencies, sources)


def views(client: httpx.Client, server: Server, tokens: dict, firsts: dict) -> dict:
    """Each viewer watches the first video of their page 1 (most of it)."""
    freeze_client_heap()
    sample = machine.CpuSample.start(server=server.pid, cassandra=machine.cassandra_pid())
    latencies, sources = [], {}
    for user, video in firsts.items():
        started = time.perf_counter()
        response = client.post(f"/api/v1/videos/{video}/views",
                               json={"eventId": str(uuid.uuid4()), "secondsWatched": 500.0},
                               headers={"Authorization": f"Bearer {tokens[user]}"})
        latencies.append(1000 * (time.perf_counter() - started))
        outcome = str(response.status_code)
        sources[outcome] = sources.get(outcome, 0) + 1
    return summary(sample, latencies, sources)


def summary(sample: machine.CpuSample, latencies: list[float], sources: dict) -> dict:
    used = sample.stop()["cpu_s"]
    n = len(latencies)
    return {"p50": statistics.median(latencies),
            "p99": sorted(latencies)[min(n - 1, int(0.99 * n))],
            "app": 1000 * (used["server"] or 0) / n,
            "cassandra": 1000 * (used["cassandra"] or 0) / n, "sources": sources, "n": n}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--no-write-docs", dest="write_docs", action="store_false")
    args = ap.parse_args(argv)
    settings = seed.bench_settings(KEYSPACE)
    cluster, session = connect(settings)
    try:
        users = [u for u, _ in seed.load_user_vectors(session, KEYSPACE)][:args.users]
        version = session.execute("SELECT release_version FROM system.local").one()[0]
    finally:
        cluster.shutdown()
    if not users:
        raise SystemExit(f"{KEYSPACE} is not seeded: run make bench first")
    tokens = {u: mint(settings, u, ["viewer"]) for u in users}
    with Server(KEYSPACE) as server, httpx.Client(base_url=server.base_url,
                                                  timeout=30.0) as client:
        for token in list(tokens.values())[:10]:  # warm-up: connections, caches, JIT
            client.get("/api/v1/recommendations/foryou", params={"pageSize": 10},
                       headers={"Authorization": f"Bearer {token}"})
        time.sleep(1.0)
        firsts: dict = {}
        first = phase(client, server, tokens, 1, firsts)
        second = phase(client, server, tokens, 2)
        viewed = views(client, server, tokens, firsts)
        again = phase(client, server, {u: tokens[u] for u in firsts}, 1)
    where = machine.describe(version)
    lines = [f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC with `.venv/bin/python "
             f"-m bench.feed_pages --users {args.users}` (part of `make bench`) on "
             f"{where['cpu']}, {where['ram']} RAM, Cassandra {version}; bench_10k, shipped "
             "defaults, one request at a time (page 1 of every viewer, then page 2 of every "
             "viewer, then a view of each viewer's first item, then page 1 again; the first "
             "10 viewers' page 1 was a warm-up).", "",
             "| request | requests | p50 ms | p99 ms | server CPU ms (app / Cassandra) | "
             "sources or statuses |", "|---|---|---|---|---|---|"]
    for name, cell in (("page 1 (computed, cached)", first), ("page 2 (from the cache)", second),
                       ("a view of page 1's first video", viewed),
                       ("page 1 after that view (computed again)", again)):
        lines.append(f"| {name} | {cell['n']} | {cell['p50']:.1f} | {cell['p99']:.1f} | "
                     f"{cell['app'] + cell['cassandra']:.1f} ({cell['app']:.1f} / "
                     f"{cell['cassandra']:.1f}) | {cell['sources']} |")
    block = "\n".join(lines)
    print(block)
    if args.write_docs:
        report.update_doc(REPO / "docs" / "benchmarks.md", block, BEGIN, END,
                          heading="Feed pages: the ranked-list cache")
    return 0


if __name__ == "__main__":
    sys.exit(main())
