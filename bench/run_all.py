"""`make bench`: the For You feed under load, against the real app, on a local Cassandra 5.

    .venv/bin/python -m bench.run_all            # 10k and 100k videos, 1k users, 30 s cells
    .venv/bin/python -m bench.run_all --quick    # 2k videos, 100 users, 5 s cells (smoke)
    .venv/bin/python -m bench.run_all --profile  # always run the profile phase

Per catalogue size: seed (cached by a marker row), serve the app with uvicorn in its own
process, then for each concurrency run (a) the HTTP feed from a load-generator process and
(b) the feed's bare ANN SELECT through the driver from another process. Each cell is
bounded by --max-requests AND --seconds. If a target is missed (or --profile), the app
is served again with bench-only stage timers and a cProfile of its event loop.
Writes the block between <!-- feed:begin --> and <!-- feed:end --> in docs/benchmarks.md
(a --quick run only prints it unless --write-docs).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import shlex
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from bench import heavy, loadgen, machine, report, seed
from bench.feed_block import PAGE_SIZE, TARGET_SCALE, evaluate, render
from bench.feed_profile import profile_phase
from bench.report import log
from bench.server import REAL_APP, Server
from killrvideo_reco.store.connection import connect

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"

FULL = [seed.Spec("bench_10k", 10_000, 1_000), seed.Spec("bench_100k", 100_000, 1_000)]
QUICK = [seed.Spec("bench_quick", 2_000, 100)]
# The bare ANN query the feed is measured against: one content-space ANN of 50 rows, the
# query a page of 10 needs with an over-fetch of 2 (the feed's first query before it
# became one pipeline); kept so that every run compares with the same query.
BARE_ANN_LIMIT = 50


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 2k videos, 100 users, 5 s cells; prints, does not write docs")
    ap.add_argument("--concurrency", default="1,8,32", help="comma-separated (default 1,8,32)")
    ap.add_argument("--seconds", type=float, help="time bound per cell (default 30, quick 5)")
    ap.add_argument("--max-requests", type=int,
                    help="request bound per cell (default 5000, quick 1000)")
    ap.add_argument("--warmup", type=float, help="warm-up seconds per scale (default 8, quick 2)")
    ap.add_argument("--scales", help="only these keyspaces, e.g. bench_100k")
    ap.add_argument("--profile", dest="profile", action="store_true", default=None,
                    help="always run the profile phase")
    ap.add_argument("--no-profile", dest="profile", action="store_false",
                    help="never run the profile phase")
    ap.add_argument("--no-compact", action="store_true",
                    help="when seeding, do not flush + major-compact the videos table")
    ap.add_argument("--write-docs", dest="write_docs", action="store_true", default=None)
    ap.add_argument("--no-write-docs", dest="write_docs", action="store_false")
    ap.add_argument("--docs", type=Path, default=DOC, help="the markdown file to update")
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                    help="before measuring each catalogue, wait up to this long for the 1-min "
                         "load average to fall below --quiet-load and Cassandra to have no "
                         "active compactions (default 0: do not wait)")
    ap.add_argument("--quiet-load", type=float, default=1.0)
    ap.add_argument("--seed-only", action="store_true", help="seed (or check) the data sets, then stop")
    ap.add_argument("--embeddings", action="store_true",
                    help="also run bench/embeddings_bench.py (output printed, not written)")
    args = ap.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    args.seconds = args.seconds or (5.0 if args.quick else 30.0)
    args.max_requests = args.max_requests or (1000 if args.quick else 5000)
    args.warmup = args.warmup if args.warmup is not None else (2.0 if args.quick else 8.0)
    if args.write_docs is None:
        args.write_docs = not args.quick
    args.specs = QUICK if args.quick else FULL
    if args.scales:
        wanted = {s.strip() for s in args.scales.split(",")}
        args.specs = [s for s in args.specs if s.keyspace in wanted]
    return args


def cell_record(result: loadgen.CellResult, cpu: dict) -> dict:
    n = len(result.latencies_ms)
    return {**report.summarise(result.latencies_ms), "kind": result.kind,
            "concurrency": result.concurrency, "elapsed_s": result.elapsed_s,
            "throughput": n / result.elapsed_s if result.elapsed_s else 0.0,
            "failures": result.failures, "statuses": result.statuses, "errors": result.errors,
            "stopped_by": result.stopped_by, "rows_per_answer": result.rows_per_answer,
            "sources": result.sources,
            "cpu_ms_per_req": {k: (1000.0 * v / n if v is not None and n else None)
                               for k, v in cpu["cpu_s"].items()},
            "machine_busy_pct": cpu["machine_busy_pct"],
            "other_cpu_per_s": cpu["other_busy_s"] / max(result.elapsed_s, 1e-9),
            "load_before": cpu["load_before"], "load_after": cpu["load_after"]}


def measure_scale(spec: seed.Spec, args, ann_limit: int, users: list[str],
                  heavy_users: list[str]) -> dict:
    ctx = multiprocessing.get_context("spawn")
    cells: dict[int, dict] = {}
    cassandra = machine.cassandra_pid()
    with Server(spec.keyspace, REAL_APP) as server, \
            ProcessPoolExecutor(1, mp_context=ctx) as clients, \
            ProcessPoolExecutor(1, mp_context=ctx) as driver:
        client_pid = clients.submit(loadgen.worker_pid).result()
        driver_pid = driver.submit(loadgen.worker_pid).result()
        log(f"{spec.keyspace}: app pid {server.pid} on {server.base_url}; warm-up "
            f"{args.warmup:.0f}s (service) + {args.warmup / 2:.0f}s (bare ANN)")
        warm_failures = clients.submit(loadgen.http_cell, server.base_url, users, 8, 10**9,
                                       args.warmup, 0, PAGE_SIZE).result().failures
        warm_failures += driver.submit(loadgen.ann_cell, spec.keyspace, ann_limit, 8, 10**9,
                                       args.warmup / 2, 0).result().failures
        for c in args.concurrency:
            short_warm = min(2.0, args.seconds / 5)
            warm_failures += clients.submit(loadgen.http_cell, server.base_url, users, c, 10**9,
                                            short_warm, 0, PAGE_SIZE).result().failures
            sample = machine.CpuSample.start(server=server.pid, cassandra=cassandra,
                                             client=client_pid)
            svc = clients.submit(loadgen.http_cell, server.base_url, users, c, args.max_requests,
                                 args.seconds, 0, PAGE_SIZE, 100 + c).result()
            svc_rec = cell_record(svc, sample.stop())

            warm_failures += driver.submit(loadgen.ann_cell, spec.keyspace, ann_limit, c, 10**9,
                                           short_warm, 0).result().failures
            sample = machine.CpuSample.start(cassandra=cassandra, client=driver_pid)
            bare = driver.submit(loadgen.ann_cell, spec.keyspace, ann_limit, c, args.max_requests,
                                 args.seconds, 0, 200 + c).result()
            bare_rec = cell_record(bare, sample.stop())
            cells[c] = {"service": svc_rec, "bare": bare_rec}
            log(f"{spec.keyspace} c={c}: service p50 {svc_rec['p50']:.1f} p95 {svc_rec['p95']:.1f} "
                f"p99 {svc_rec['p99']:.1f} ms, {svc_rec['throughput']:.0f} req/s, "
                f"{svc_rec['failures']} non-200 | bare ANN p50 {bare_rec['p50']:.1f} "
                f"p99 {bare_rec['p99']:.1f} ms, {bare_rec['throughput']:.0f} q/s | "
                f"load {os.getloadavg()[0]:.2f}")
            if svc.errors:
                log(f"  errors: {svc.errors}")
        if heavy_users:  # the same server, its caches as the light viewers left them
            c = heavy.CONCURRENCY
            warm_failures += clients.submit(loadgen.http_cell, server.base_url, heavy_users, c,
                                            10**9, min(2.0, args.seconds / 5), 0,
                                            PAGE_SIZE).result().failures
            sample = machine.CpuSample.start(server=server.pid, cassandra=cassandra,
                                             client=client_pid)
            svc = clients.submit(loadgen.http_cell, server.base_url, heavy_users, c,
                                 min(args.max_requests, heavy.REQUESTS_PER_VIEWER
                                     * len(heavy_users)), args.seconds, 0, PAGE_SIZE,
                                 300).result()
            heavy_cell = cell_record(svc, sample.stop())
            log(f"{spec.keyspace} heavy watchers c={c}: p50 {heavy_cell['p50']:.1f} p99 "
                f"{heavy_cell['p99']:.1f} ms, {heavy_cell['throughput']:.0f} req/s")
        driver.submit(loadgen.close_bare).result()
    cells_meta = {"warmup_failures": warm_failures,
                  "heavy": heavy_cell if heavy_users else None}
    return cells, cells_meta


def versions() -> dict:
    from importlib.metadata import version

    out = {name: version(name) for name in ("uvicorn", "fastapi", "cassandra-driver", "httpx")}
    try:
        import uvloop  # noqa: F401
        out["loop"] = "uvloop"
    except ImportError:
        out["loop"] = "asyncio (uvloop not installed)"
    try:
        import httptools  # noqa: F401
        out["http"] = "httptools"
    except ImportError:
        out["http"] = "h11 (httptools not installed)"
    return out


# ---------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    command = ".venv/bin/python -m bench.run_all " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    if command.strip() == ".venv/bin/python -m bench.run_all":
        command = "make bench  # = .venv/bin/python -m bench.run_all"
    load_start = "/".join(f"{v:.2f}" for v in os.getloadavg())
    cassandra = machine.cassandra_pid()
    others_start = machine.top_other_processes({cassandra or -1})

    ann_limit = BARE_ANN_LIMIT
    cluster, session = connect(seed.bench_settings("system"))
    try:
        cassandra_version = session.execute("SELECT release_version FROM system.local").one()[0]
        markers, users, heavy_users = {}, {}, {}
        for spec in args.specs:
            t = time.perf_counter()
            markers[spec.keyspace] = seed.ensure(spec, session, compact=not args.no_compact,
                                                 log=log)
            markers[spec.keyspace]["training"] = seed.ensure_trained(spec, log=log)
            log(f"{spec.keyspace}: ready in {time.perf_counter() - t:.1f}s")
            # The heavy cohort goes to the largest catalogue, measured in a cell of its own.
            cohort = heavy.ensure(spec, session, log=log) \
                if spec.videos >= TARGET_SCALE and not args.quick else []
            heavy_users[spec.keyspace] = [str(u) for u in cohort]
            others = set(cohort)
            users[spec.keyspace] = [str(u) for u, _ in seed.load_user_vectors(session,
                                                                               spec.keyspace)
                                    if u not in others]
            if len(users[spec.keyspace]) != spec.users:
                raise SystemExit(f"{spec.keyspace}: {len(users[spec.keyspace])} profiles, "
                                 f"expected {spec.users}")
    finally:
        cluster.shutdown()
    if args.seed_only:
        return 0

    results: dict = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                     "command": command, "machine": machine.describe(cassandra_version),
                     "versions": versions(), "load_start": load_start,
                     "others_start": others_start, "ann_limit": ann_limit,
                     "scales": {}, "notes": []}
    for spec in args.specs:
        sstables = machine.sstable_count(spec.keyspace)
        quiet = machine.wait_quiet(args.wait_quiet, args.quiet_load, log)
        cells, meta = measure_scale(spec, args, ann_limit, users[spec.keyspace],
                                    heavy_users[spec.keyspace])
        results["scales"][spec.videos] = {"keyspace": spec.keyspace, "marker": markers[spec.keyspace],
                                          "cells": cells, "sstables": sstables, "quiet": quiet,
                                          "warmup_failures": meta["warmup_failures"],
                                          "heavy": meta["heavy"],
                                          "compactions_after": machine.active_compactions()}
    results["failures"] = sum(cell["service"]["failures"] + cell["bare"]["failures"]
                              for scale in results["scales"].values()
                              for cell in scale["cells"].values()) + sum(
        scale["heavy"]["failures"] for scale in results["scales"].values() if scale["heavy"])
    results["targets"] = evaluate(results)
    missed = any(ok is False for _, _, ok in results["targets"])
    if args.profile or (args.profile is None and missed):
        biggest = max(args.specs, key=lambda s: s.videos)
        with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
            results["profile"] = profile_phase(biggest, args, users[biggest.keyspace], Path(tmp))
    if args.embeddings:
        log("embeddings benchmark (bench/embeddings_bench.py):")
        subprocess.run([sys.executable, str(REPO / "bench" / "embeddings_bench.py")], cwd=REPO)

    results["load_end"] = "/".join(f"{v:.2f}" for v in os.getloadavg())
    results["wall_s"] = time.perf_counter() - started
    block = render(results, args)
    print(block)
    if args.write_docs:
        report.update_doc(args.docs, block)
        shown = args.docs.relative_to(REPO) if args.docs.is_relative_to(REPO) else args.docs
        log(f"wrote the feed section of {shown}")
    for name, text, _ok in results["targets"]:
        log(f"{name}: {text}")
    return 1 if results["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
