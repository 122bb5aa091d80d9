"""View-ingest benchmark: playback events through the public API at platform rates.

    .venv/bin/python -m bench.ingest_bench [--seconds 60] [--concurrency 16]

Cells (each bounded in count and time): many viewers at --concurrency for --seconds, then a
hot viewer (--hot events for one viewer, all in flight at once, --hot-rounds times). Then the
verification: every acknowledged event is in its history row and counted exactly once
(play counts and video counters, before/after), and the online profiles of a sample of
viewers equal a rebuild from history. Writes the block between <!-- ingest:begin --> and
<!-- ingest:end --> in docs/benchmarks.md. Runs on bench_10k's viewers, whose 50-video
histories give full-size taste states.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone

import numpy as np

from bench import ingest_load, machine, report, seed
from bench.server import Server
from killrvideo_reco.bootstrap import build_resources, migrate
from killrvideo_reco.embeddings.factory import build_provider
from killrvideo_reco.jobs.profiles import rebuild_profiles

BEGIN, END = "<!-- ingest:begin -->", "<!-- ingest:end -->"
SPEC = seed.Spec("bench_10k", 10_000, 1_000)


def log(message: str) -> None:
    print(f"[ingest] {message}", file=sys.stderr, flush=True)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--max-events", type=int, default=60_000)
    ap.add_argument("--hot", type=int, default=20, help="concurrent events for one viewer")
    ap.add_argument("--hot-rounds", type=int, default=5)
    ap.add_argument("--videos", type=int, default=5_000, help="videos the events pick from")
    ap.add_argument("--check-profiles", type=int, default=50,
                    help="viewers whose online profile is compared with a rebuild")
    ap.add_argument("--wait-quiet", type=float, default=120.0, metavar="SECONDS",
                    help="after rebuilding the states, wait at most this long for the node's "
                         "compactions to end and the load to fall below --quiet-load, so "
                         "runs measure the view path, not the set-up's compaction (0: no wait)")
    ap.add_argument("--quiet-load", type=float, default=1.5)
    ap.add_argument("--no-write-docs", dest="write_docs", action="store_false")
    return ap.parse_args(argv)


async def _counts(resources, users, videos):
    """(play_count per (viewer, video), event ids per pair, views per video)."""
    histories = await asyncio.gather(*(resources.viewers.history(u) for u in users))
    plays, event_ids = {}, {}
    for user, rows in zip(users, histories):
        for row in rows:
            plays[(user, row.video_id)] = row.play_count
            event_ids[(user, row.video_id)] = row.event_ids
    totals = await resources.viewers.total_views(sorted(videos))
    return plays, event_ids, totals


def verify(resources, cells: list[ingest_load.IngestResult], before) -> dict:
    acked = [e for cell in cells for e in cell.events if 200 <= e.status < 300]
    unacked = [e for cell in cells for e in cell.events if not 200 <= e.status < 300]
    per_pair = Counter((uuid.UUID(e.user_id), uuid.UUID(e.video_id)) for e in acked)
    per_video = Counter(uuid.UUID(e.video_id) for e in acked)
    plays0, _, totals0 = before
    plays1, ids1, totals1 = asyncio.run(_counts(resources, sorted({u for u, _ in per_pair}),
                                                   set(per_video)))
    missing = sum(1 for e in acked
                  if e.event_id not in ids1.get((uuid.UUID(e.user_id), uuid.UUID(e.video_id)), ()))
    play_diff = sum(abs(plays1.get(p, 0) - plays0.get(p, 0) - n) for p, n in per_pair.items())
    counter_diff = sum(abs(totals1.get(v, 0) - totals0.get(v, 0) - n) for v, n in per_video.items())
    return {"acked": len(acked), "unacked": len(unacked), "missing_event_ids": missing,
            "play_count_mismatch": play_diff, "counter_mismatch": counter_diff,
            "retried": sum(1 for e in acked if e.attempts > 1),
            "duplicates_reported": sum(1 for e in acked if not e.recorded)}


def check_profiles(resources, users: list[uuid.UUID]) -> dict:
    """Online preference vectors against a rebuild from history (max abs difference)."""
    async def run() -> list[float]:
        diffs = []
        for user in users:
            online = await resources.viewers.profile(user)
            model = online.model_id if online else None
            await resources.activity.rebuild(user, model)
            rebuilt = await resources.viewers.profile(user)
            if online is None or online.preference_vector is None:
                diffs.append(0.0 if rebuilt is None or rebuilt.preference_vector is None
                             else float("inf"))
                continue
            diffs.append(float(np.max(np.abs(np.asarray(online.preference_vector)
                                              - np.asarray(rebuilt.preference_vector)))))
        return diffs
    diffs = asyncio.run(run())
    return {"viewers": len(diffs), "max_abs_diff": max(diffs) if diffs else float("nan")}


def cell_row(name: str, cell: ingest_load.IngestResult, cpu: dict) -> dict:
    stats = report.summarise(cell.latencies_ms)
    events = len(cell.events)
    used = cpu["cpu_s"]
    per_event = {k: (1000.0 * v / events if v is not None and events else None)
                 for k, v in used.items()}
    return {"name": name, "c": cell.concurrency, "events": events,
            "rate": events / cell.elapsed_s if cell.elapsed_s else 0.0,
            "non_2xx": cell.non_2xx, "statuses": dict(cell.statuses), "errors": cell.errors,
            "elapsed_s": cell.elapsed_s, "stopped_by": cell.stopped_by, **stats,
            "cpu_ms": per_event, "load": cpu["load_before"][0]}


def run(args) -> dict:
    settings = seed.bench_settings(SPEC.keyspace)
    migrate(settings)  # a keyspace seeded by an older release lacks newer schema files
    resources = build_resources(settings, build_provider(settings))
    try:
        session = resources.database.session
        users = [u for u, _ in seed.load_user_vectors(session, SPEC.keyspace)]
        videos = [r.videoid for r in session.execute(
            f"SELECT videoid FROM {SPEC.keyspace}.videos LIMIT {int(args.videos)}")]
        if not users or not videos:
            raise SystemExit(f"{SPEC.keyspace} is not seeded: run make bench first")
        # States from an older format or other weights are rebuilt on their first event;
        # rebuild them all first so that the cells measure the steady state.
        summary = asyncio.run(rebuild_profiles(resources.videos, resources.viewers,
                                               resources.activity))
        log(f"profiles rebuilt first: {summary}")
        log(f"{len(users)} viewers, {len(videos)} videos; reading counts before")
        before = asyncio.run(_counts(resources, users, set(videos)))
        quiet = machine.wait_quiet(args.wait_quiet, args.quiet_load, log)
        log(f"went ahead after {quiet['waited_s']:.0f}s: load {quiet['load1']:.2f}, "
            f"compactions {quiet['compactions'] or 'none'}")
        ctx = multiprocessing.get_context("spawn")
        cassandra = machine.cassandra_pid()
        rows, cells = [], []
        user_ids, video_ids = [str(u) for u in users], [str(v) for v in videos]
        with Server(SPEC.keyspace) as server, \
                ProcessPoolExecutor(1, mp_context=ctx) as clients:
            client = clients.submit(ingest_load.worker_pid).result()
            warm = clients.submit(ingest_load.view_cell, server.base_url, user_ids, video_ids,
                                  args.concurrency, 10**6, 5.0, 1).result()
            cells.append(warm)
            sample = machine.CpuSample.start(server=server.pid, cassandra=cassandra,
                                             client=client)
            batches = write_batches(server.base_url)
            many = clients.submit(ingest_load.view_cell, server.base_url, user_ids, video_ids,
                                  args.concurrency, args.max_events, args.seconds, 2).result()
            cells.append(many)
            rows.append(cell_row("many viewers", many, sample.stop()))
            rows[-1]["batches"] = batch_means(batches, write_batches(server.base_url))
            log(f"many viewers: {rows[-1]['rate']:.0f} events/s, p50 {rows[-1]['p50']:.1f} "
                f"p99 {rows[-1]['p99']:.1f} ms, {many.non_2xx} non-2xx {many.errors[:2]}")
            hot_cells = []
            sample = machine.CpuSample.start(server=server.pid, cassandra=cassandra,
                                             client=client)
            for r in range(args.hot_rounds):
                hot_user = [user_ids[r % len(user_ids)]]
                hot_cells.append(clients.submit(
                    ingest_load.view_cell, server.base_url, hot_user, video_ids, args.hot,
                    args.hot, 30.0, 100 + r, True).result())
            hot = ingest_load.IngestResult(args.hot)
            for cell in hot_cells:
                hot.latencies_ms += cell.latencies_ms
                hot.events += cell.events
                hot.errors += cell.errors
                hot.elapsed_s += cell.elapsed_s
                for k, v in cell.statuses.items():
                    hot.statuses[k] = hot.statuses.get(k, 0) + v
            cells += hot_cells
            rows.append(cell_row(f"hot viewer ({args.hot} at once) x{args.hot_rounds}", hot,
                                 sample.stop()))
            log(f"hot viewer: p50 {rows[-1]['p50']:.1f} p99 {rows[-1]['p99']:.1f} ms, "
                f"{hot.non_2xx} non-2xx {dict(hot.statuses)} {hot.errors[:2]}")
        checks = verify(resources, cells, before)
        log(f"verification: {checks}")
        touched = sorted({uuid.UUID(e.user_id) for c in cells for e in c.events})
        profiles = check_profiles(resources, touched[:args.check_profiles])
        log(f"profiles: {profiles}")
        version = session.execute("SELECT release_version FROM system.local").one()[0]
    finally:
        resources.close()
    return {"rows": rows, "checks": checks, "profiles": profiles, "quiet": quiet,
            "machine": machine.describe(version),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def write_batches(base_url: str) -> dict[str, tuple[float, float]]:
    """The service's killrvideo_view_write_batch_size: (views, statements) by kind."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as answer:
        return parse_write_batches(answer.read().decode())


def parse_write_batches(text: str) -> dict[str, tuple[float, float]]:
    found: dict[str, list[float]] = {}
    for sample in report.metric_samples(text, "killrvideo_view_write_batch_size"):
        for n, suffix in enumerate(("_sum", "_count")):
            if sample.name.endswith(suffix):
                found.setdefault(sample.labels["kind"], [0.0, 0.0])[n] = sample.value
    return {kind: (views, statements) for kind, (views, statements) in found.items()}


def batch_means(before: dict, after: dict) -> dict[str, float]:
    """Views per statement during the cell, by kind."""
    means = {}
    for kind, (views, statements) in after.items():
        views_before, statements_before = before.get(kind, (0.0, 0.0))
        if statements > statements_before:
            means[kind] = (views - views_before) / (statements - statements_before)
    return means


def render(results: dict, args) -> str:
    m = results["machine"]
    lines = [f"Measured {results['date']} with `.venv/bin/python -m bench.ingest_bench "
             f"--seconds {args.seconds:g} --concurrency {args.concurrency}` (part of "
             f"`make bench`) on {m.get('cpu', '?')}, {m.get('ram', '?')} RAM, "
             f"Cassandra {m.get('cassandra', '?')}; service, Cassandra and load generator on "
             "the same machine. Keyspace bench_10k: 1,000 viewers with 50-video histories"
             f"; {_quiet_note(results['quiet'])}.", "",
             "| cell | events | events/s | p50 ms | p99 ms | non-2xx | CPU ms/event "
             "(app / Cassandra / client) | load at start |", "|---|---|---|---|---|---|---|---|"]
    for r in results["rows"]:
        cpu = " / ".join(f"{v:.1f}" if v is not None else "–"
                         for v in (r["cpu_ms"].get("server"), r["cpu_ms"].get("cassandra"),
                                   r["cpu_ms"].get("client")))
        lines.append(f"| {r['name']} (c={r['c']}) | {r['events']:,} | {r['rate']:.0f} | "
                     f"{report.ms(r['p50'])} | {report.ms(r['p99'])} | {r['non_2xx']} | {cpu} | "
                     f"{r['load']:.2f} |")
    batches = results["rows"][0].get("batches") if results["rows"] else None
    if batches:
        lines += ["", "The writes that follow a view's commit, shared by the views that commit "
                  "together (`killrvideo_view_write_batch_size`, many-viewers cell): " + ", ".join(
                      f"{kind} {mean:.2f} views a statement" for kind, mean in sorted(batches.items()))
                  + "."]
    c, p = results["checks"], results["profiles"]
    lines += ["", "Verification after the run (reads every touched history row and counter):", "",
              f"- acknowledged events: {c['acked']:,}; never acknowledged after "
              f"{ingest_load.RETRIES} tries: {c['unacked']}; acknowledged only on a retry: "
              f"{c['retried']}",
              f"- acknowledged event ids missing from their history row: {c['missing_event_ids']}",
              f"- play-count mismatches (lost or double-counted): {c['play_count_mismatch']}; "
              f"video-counter mismatches: {c['counter_mismatch']}",
              f"- online profile vs a rebuild from history, {p['viewers']} viewers: max |diff| "
              f"{p['max_abs_diff']:.2e}"]
    return "\n".join(lines)


def _quiet_note(quiet: dict) -> str:
    state = (f"load {quiet['load1']:.2f}, compactions "
             f"{', '.join(quiet['compactions']) or 'none'}")
    if quiet["quiet"] is None:
        return f"not waited for a quiet node ({state})"
    verdict = "quiet" if quiet["quiet"] else "still busy at the bound"
    return (f"after rebuilding the viewers' states, {quiet['waited_s']:.0f} s waited for a "
            f"quiet node ({verdict}: {state})")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    results = run(args)
    block = render(results, args)
    print(block)
    if args.write_docs:
        report.update_doc(report.DOC, block, BEGIN, END, "View ingest")
    c = results["checks"]
    bad = (c["unacked"] or c["missing_event_ids"] or c["play_count_mismatch"]
           or c["counter_mismatch"] or results["profiles"]["max_abs_diff"] > 1e-4)
    return 1 if bad else 0


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    sys.exit(main())
