"""What recording impressions costs the feed: server CPU per For You request with the
closed loop off (RECORD_IMPRESSIONS=0, FEED_IMPRESSION_LIMIT=0) and on (the defaults:
each page recorded in the background, and the repeat limit's read of the viewer's
impressions alongside the candidate reads).

    .venv/bin/python -m bench.impression_cost [--users 150] [--rounds 2] [--keyspace K]
                                              [--no-write-docs]

On its own keyspace (bench_loop: 5k videos, 400 viewers, seeded and trained by the bench
tooling), a fresh server per configuration, configurations alternated `rounds` times.
Each viewer asks for page 1 (computed) then page 2 (the list cache), one at a time. CPU
is the app's and Cassandra's over the phase, plus one second after it for the queued
writes to land, divided by the requests. Writes the block between <!-- impressions:begin
--> and <!-- impressions:end --> in docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import httpx

from bench import machine, report, seed
from bench.server import Server
from killrvideo_reco.auth import mint
from killrvideo_reco.store.connection import connect

REPO = Path(__file__).resolve().parents[1]
SPEC = seed.Spec("bench_loop", videos=5000, users=400)
BEGIN, END = "<!-- impressions:begin -->", "<!-- impressions:end -->"
CONFIGS = {"off": {"RECORD_IMPRESSIONS": "0", "FEED_IMPRESSION_LIMIT": "0"}, "on": {}}


def measure(spec: seed.Spec, tokens: list[str], env: dict) -> dict:
    with Server(spec.keyspace, extra_env=env) as server, httpx.Client(
            base_url=server.base_url, timeout=30.0) as client:
        for token in tokens[:10]:  # warm-up: connections, caches
            client.get("/api/v1/recommendations/foryou", params={"pageSize": 10},
                       headers={"Authorization": f"Bearer {token}"})
        time.sleep(1.0)
        sample = machine.CpuSample.start(server=server.pid, cassandra=machine.cassandra_pid())
        latencies, failed = [], 0
        for token in tokens:
            for page in (1, 2):
                started = time.perf_counter()
                response = client.get("/api/v1/recommendations/foryou",
                                      params={"page": page, "pageSize": 10},
                                      headers={"Authorization": f"Bearer {token}"})
                latencies.append(1000 * (time.perf_counter() - started))
                failed += response.status_code != 200
        time.sleep(1.0)  # the background writes of the last pages
        used = sample.stop()["cpu_s"]
    n = len(latencies)
    return {"n": n, "failed": failed, "p50": statistics.median(latencies),
            "app": 1000 * (used["server"] or 0) / n,
            "cassandra": 1000 * (used["cassandra"] or 0) / n}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--keyspace", default=SPEC.keyspace, help=(
        "Seed and serve this keyspace instead (the same data set): a branch with a newer "
        "schema than another checkout's servers of the default one"))
    ap.add_argument("--no-write-docs", dest="write_docs", action="store_false")
    args = ap.parse_args(argv)
    spec = replace(SPEC, keyspace=args.keyspace)
    settings = seed.bench_settings(spec.keyspace)
    cluster, session = connect(settings)
    try:
        seed.ensure(spec, session)
        users = [u for u, _ in seed.load_user_vectors(session, spec.keyspace)][:args.users]
        version = session.execute("SELECT release_version FROM system.local").one()[0]
    finally:
        cluster.shutdown()
    seed.ensure_trained(spec)
    tokens = [mint(settings, u, ["viewer"]) for u in users]
    runs: dict[str, list[dict]] = {name: [] for name in CONFIGS}
    for _ in range(args.rounds):
        for name, env in CONFIGS.items():
            runs[name].append(measure(spec, tokens, env))
            print(name, runs[name][-1], flush=True)
    mean = {name: {k: statistics.mean(r[k] for r in rs) for k in ("app", "cassandra", "p50")}
            for name, rs in runs.items()}
    total = {name: m["app"] + m["cassandra"] for name, m in mean.items()}
    where = machine.describe(version)
    keyspace_arg = f" --keyspace {spec.keyspace}" if spec.keyspace != SPEC.keyspace else ""
    lines = [f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC with `.venv/bin/python "
             f"-m bench.impression_cost --users {args.users} --rounds {args.rounds}"
             f"{keyspace_arg}` on "
             f"{where['cpu']}, {where['ram']} RAM, Cassandra {version}; {spec.keyspace} "
             f"({spec.videos} videos, {spec.users} viewers, trained), pages 1 and 2 of "
             f"{len(users)} viewers per run, one request at a time, a fresh server per run, "
             "off/on alternated; mean over the runs.", "",
             "| closed loop | requests per run | p50 ms | server CPU ms per request "
             "(app / Cassandra) |", "|---|---|---|---|"]
    for name in CONFIGS:
        lines.append(f"| {name} | {runs[name][0]['n']} | {mean[name]['p50']:.1f} | "
                     f"{total[name]:.2f} ({mean[name]['app']:.2f} / "
                     f"{mean[name]['cassandra']:.2f}) |")
    if not any(m["cassandra"] for m in mean.values()):
        lines += ["", "Cassandra's CPU was not measured here (no .cassandra/cassandra.pid in "
                      "this checkout): the figures are the app's alone."]
    lines += ["", f"Recording (and the repeat limit's read) costs "
                  f"{100 * (total['on'] / total['off'] - 1):+.1f}% server CPU per request."]
    block = "\n".join(lines)
    print(block)
    if args.write_docs:
        report.update_doc(REPO / "docs" / "benchmarks.md", block, BEGIN, END,
                          heading="Impressions: what recording costs the feed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
