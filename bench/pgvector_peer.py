"""`make bench-pgvector` (and the end of `make bench`): the seeds' pull-request design on
PostgreSQL + pgvector, side by side with our retrieval stage, on the same data.

    .venv/bin/python -m bench.pgvector_peer                       # bench_10k + bench_100k
    .venv/bin/python -m bench.pgvector_peer --quick --scales bench_10k   # smoke, prints only

Per catalogue: the bench keyspace (seeded by bench/seed.py, as `make bench` does) is read
from Cassandra and copied into a pgserver PostgreSQL with an HNSW index (cached in
.bench/pgvector); synthetic long-history viewers are added to both systems (Cassandra:
keyspace bench_pg_long, dropped at the end). Then: recall@10 of both against the exact
top 10, latency cells at each concurrency (same viewers, same closed loop), and the
long-history viewers. Writes the block between <!-- pgvector:begin --> and
<!-- pgvector:end --> in docs/benchmarks.md (a --quick run only prints it).
Needs the `bench` extra: pip install -e '.[bench]'.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import machine, pgvector_load, seed
from bench.pgvector_cells import OurRetrieval, cassandra_pid, heap_flags, our_cell, peer_cell, recall_pass
from bench.pgvector_long import long_history_pass
from bench.pgvector_report import render, update_doc
from bench.run_all import FULL
from killrvideo_reco.settings import Settings
from killrvideo_reco.store.connection import connect

DOC = machine.REPO / "docs" / "benchmarks.md"


def log(message: str) -> None:
    print(f"[pgvector {datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr,
          flush=True)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 3 s cells, 100 recall viewers, few repeats; prints only")
    ap.add_argument("--scales", default=",".join(s.keyspace for s in FULL),
                    help="bench keyspaces to compare (default: make bench's)")
    ap.add_argument("--concurrency", type=_ints, default=[1, 8])
    ap.add_argument("--seconds", type=float, help="time bound per cell (default 20, quick 3)")
    ap.add_argument("--max-requests", type=int,
                    help="count bound per cell (default 5000, quick 300)")
    ap.add_argument("--warmup", type=float, help="warm-up seconds per cell (default 5, quick 1)")
    ap.add_argument("--recall-viewers", type=int,
                    help="viewers in the recall pass (default all 1,000, quick 100)")
    ap.add_argument("--ef-search", type=_ints, default=[40, 100],
                    help="hnsw.ef_search values for the recall pass; the first one (pgvector's "
                         "default, 40) is used everywhere else")
    ap.add_argument("--long-history", type=_ints, default=[2000, 8000, 20000],
                    help="history lengths of the synthetic heavy viewers (those above 80%% of "
                         "a catalogue are skipped)")
    ap.add_argument("--long-repeats", type=int, help="answers per long-history variant "
                                                     "(default 30, quick 5)")
    ap.add_argument("--keep-long-keyspace", action="store_true",
                    help=f"do not drop {pgvector_load.LONG_KEYSPACE} at the end")
    ap.add_argument("--write-docs", dest="write_docs", action="store_true", default=None)
    ap.add_argument("--no-write-docs", dest="write_docs", action="store_false")
    ap.add_argument("--docs", type=Path, default=DOC)
    args = ap.parse_args(argv)
    quick = args.quick
    args.seconds = args.seconds or (3.0 if quick else 20.0)
    args.max_requests = args.max_requests or (300 if quick else 5000)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if quick else 5.0)
    args.recall_viewers = args.recall_viewers or (100 if quick else 10**9)
    args.long_repeats = args.long_repeats or (5 if quick else 30)
    args.write_docs = (not quick) if args.write_docs is None else args.write_docs
    wanted = {s.strip() for s in args.scales.split(",") if s.strip()}
    args.specs = [s for s in FULL if s.keyspace in wanted]
    if not args.specs:
        ap.error(f"--scales: none of {sorted(wanted)} is one of {[s.keyspace for s in FULL]}")
    return args


def measure(spec: seed.Spec, args, session, server, window: int) -> dict:
    marker = seed.ensure(spec, session, log=log)  # a no-op once make bench has seeded it
    t = time.perf_counter()
    catalogue = pgvector_load.read_catalogue(session, spec.keyspace, marker)
    viewers = pgvector_load.read_viewers(session, spec.keyspace)
    read_s = time.perf_counter() - t
    lengths = [n for n in args.long_history if n <= 0.8 * len(catalogue.ids)]
    longs = pgvector_load.long_viewers(catalogue, lengths)
    if longs:
        pgvector_load.write_long_histories(session, longs, log)
    uri = pgvector_load.database_uri(server, spec.keyspace)
    loading = pgvector_load.load_postgres(uri, catalogue, viewers + longs, log)
    log(f"{spec.keyspace}: {len(catalogue.ids)} videos and {len(viewers)} viewers read from "
        f"Cassandra in {read_s:.1f}s; postgres table {loading['table_mb']:.0f} MB, "
        f"index {loading['index_mb']:.0f} MB")
    ours = OurRetrieval(session, spec.keyspace, window)
    # The loaded data (100k ids, vectors, histories) leaves the garbage collector's view:
    # otherwise a full collection, set off by a request that allocates a 20,000-row
    # history, walks all of it and adds ~100 ms to that request on either side.
    gc.collect()
    gc.freeze()
    try:
        return _measure(spec, args, catalogue, viewers, longs, uri, loading, ours, server,
                        {"marker": marker, "read_s": read_s, "window": window})
    finally:
        gc.unfreeze()


def _measure(spec, args, catalogue, viewers, longs, uri, loading, ours, server, facts) -> dict:
    sample = viewers[:args.recall_viewers]
    recall = asyncio.run(recall_pass(uri, ours, catalogue, sample, args.ef_search))
    for name, r in recall.items():
        log(f"{spec.keyspace} recall@10 {name}: mean {r['recall_mean']:.3f}, "
            f"{r['short']} short answers, {r['watched']} watched, p50 {r['p50']:.1f} ms")
    ef, postmaster = args.ef_search[0], pgvector_load.postmaster_pid(server)
    cells = {}
    for c in args.concurrency:
        bounds = (c, args.max_requests, args.seconds, args.warmup, 100 + c)
        peer = asyncio.run(peer_cell(uri, viewers, *bounds, ef, postmaster))
        mine = asyncio.run(our_cell(ours, viewers, *bounds))
        cells[c] = {"pgvector": peer, "cassandra": mine}
        for cell in (peer, mine):
            log(f"{spec.keyspace} c={c} {cell['kind']}: p50 {cell['p50']:.1f} p99 "
                f"{cell['p99']:.1f} ms, {cell['throughput']:.0f}/s, {cell['failures']} failed, "
                f"load {cell['load_after']:.2f}")
    long = []
    if longs:
        long = asyncio.run(long_history_pass(uri, ours, catalogue, longs, ef,
                                             args.long_repeats, args.seconds))
        for entry in long:
            log(f"{spec.keyspace} history {entry['history']}: " + "; ".join(
                f"{name.split(':')[0]} {v['watched']} watched/{v['rows']} rows p50 {v['p50']:.1f}"
                for name, v in entry["variants"].items()))
    return {"keyspace": spec.keyspace, "videos": len(catalogue.ids), "viewers": len(viewers),
            "history_rows": sum(len(v.history_set) for v in viewers), "loading": loading,
            "recall": recall, "cells": cells, "long": long, **facts}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    started = time.perf_counter()
    command = " ".join([".venv/bin/python -m bench.pgvector_peer", *map(shlex.quote, argv)])
    results: dict = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                     "command": command, "load_start": os.getloadavg(), "scales": {},
                     "args": {k: getattr(args, k) for k in ("concurrency", "seconds",
                              "max_requests", "warmup", "ef_search", "long_repeats")}}
    window = Settings().feed_content_candidates
    cluster, session = connect(seed.bench_settings("system"))
    server = pgvector_load.start_postgres(log)
    try:
        version = session.execute("SELECT release_version FROM system.local").one()[0]
        results["machine"] = machine.describe(version)
        pid = cassandra_pid()  # the node may have been started from another checkout
        results["machine"]["cassandra"] = f"{version} (local single node, heap {heap_flags(pid)})"
        for spec in args.specs:
            results["scales"][spec.keyspace] = measure(spec, args, session, server, window)
    finally:
        if not args.keep_long_keyspace:
            pgvector_load.drop_long_keyspace(session)
        cluster.shutdown()
    results["load_end"] = os.getloadavg()
    results["wall_s"] = time.perf_counter() - started
    block = render(results)
    print(block)
    if args.write_docs:
        update_doc(args.docs, block)
        log(f"wrote the pgvector section of {args.docs}")
    failures = sum(cell["failures"] for scale in results["scales"].values()
                   for pair in scale["cells"].values() for cell in pair.values())
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
