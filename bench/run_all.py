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
import json
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

import httpx

from bench import heavy, loadgen, machine, report, seed
from bench.server import INSTRUMENTED_APP, REAL_APP, Server
from killrvideo_reco.domain import feed_rules
from killrvideo_reco.settings import Settings
from killrvideo_reco.store.connection import connect

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
PAGE_SIZE = 10
TARGET_SCALE, TARGET_CONCURRENCY = 100_000, 8
MUST_P99_MS, AIM_P50_MS, AIM_P99_MS, AIM_RATIO = 65.0, 8.0, 20.0, 1.3

FULL = [seed.Spec("bench_10k", 10_000, 1_000), seed.Spec("bench_100k", 100_000, 1_000)]
QUICK = [seed.Spec("bench_quick", 2_000, 100)]


def log(message: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


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


def active_compactions() -> list[str]:
    out = seed.nodetool("compactionstats", timeout=120) or ""
    found = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[-1].endswith("%") and parts[0] != "id":
            found.append(f"{parts[-6]}.{parts[-5]} {parts[-1]}")
    return found


def wait_quiet(args) -> dict:
    """Wait (bounded) for a quiet machine; report what it was like when we went ahead."""
    started = time.monotonic()
    while True:
        load = os.getloadavg()[0]
        compactions = active_compactions()
        waited = time.monotonic() - started
        quiet = load < args.quiet_load and not compactions
        if quiet or waited >= args.wait_quiet:
            return {"waited_s": waited, "load1": load, "compactions": compactions, "quiet": quiet}
        log(f"waiting for a quiet machine: load {load:.2f}, compactions {compactions or 'none'} "
            f"({waited:.0f}/{args.wait_quiet:.0f}s)")
        time.sleep(15)


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


def _thread_group(name: str, tid: int, pid: int) -> str:
    if tid == pid:
        return "main thread (asyncio event loop)"
    if name == "event_loop":
        return "driver I/O thread (libev)"
    if "AnyIO" in name or "worker" in name.lower():
        return "threadpool (sync FastAPI dependencies)"
    return f"other ({name})"


def _stage_runs(server: Server, clients, admin: httpx.Client, users: list[str], args,
                seconds: float) -> dict:
    """Feed cells at c=1 and c=8 on an instrumented app: client latencies, the app's
    stage timings and its CPU per request by thread."""
    out: dict = {}
    for c in (1, TARGET_CONCURRENCY):
        admin.get("/bench/stages")  # reset
        names = {t["native_id"]: t["name"] for t in admin.get("/bench/threads").json()}
        before = machine.thread_cpu_s(server.pid)
        result = clients.submit(loadgen.http_cell, server.base_url, users, c,
                                args.max_requests, seconds, 0, PAGE_SIZE).result()
        after = machine.thread_cpu_s(server.pid)
        names.update({t["native_id"]: t["name"] for t in admin.get("/bench/threads").json()})
        n = max(len(result.latencies_ms), 1)
        groups: dict[str, float] = {}
        for tid, cpu in after.items():
            group = _thread_group(names.get(tid, "?"), tid, server.pid)
            groups[group] = groups.get(group, 0.0) + 1000.0 * (cpu - before.get(tid, 0.0)) / n
        out[f"threads_c{c}"] = sorted(groups.items(), key=lambda kv: -kv[1])
        out[f"stages_c{c}"] = admin.get("/bench/stages").json()
        out[f"client_c{c}"] = {**report.summarise(result.latencies_ms),
                               "throughput": len(result.latencies_ms) / result.elapsed_s,
                               "failures": result.failures}
    return out


def profile_phase(spec: seed.Spec, args, users: list[str], workdir: Path) -> dict:
    """The instrumented app: an HTTP floor (/healthz), stage timings at c=1 and c=8 with
    per-thread CPU, a cProfile (thread CPU time) of the event loop at c=8; then the
    what-if run with a numpy vector codec in the driver."""
    ctx = multiprocessing.get_context("spawn")
    seconds = min(args.seconds, 15.0)
    out: dict = {"keyspace": spec.keyspace, "seconds": seconds}
    with Server(spec.keyspace, INSTRUMENTED_APP) as server, \
            ProcessPoolExecutor(1, mp_context=ctx) as clients:
        log(f"profile phase on {spec.keyspace}: instrumented app pid {server.pid}")
        clients.submit(loadgen.http_cell, server.base_url, users, 8, 10**9, args.warmup, 0,
                       PAGE_SIZE).result()
        with httpx.Client(base_url=server.base_url, timeout=30) as admin:
            for c in (1, TARGET_CONCURRENCY):
                result = clients.submit(loadgen.http_cell, server.base_url, users, c,
                                        args.max_requests, min(seconds, 5.0), 0.5, PAGE_SIZE, 7,
                                        "/healthz").result()
                out[f"healthz_c{c}"] = {**report.summarise(result.latencies_ms),
                                        "throughput": len(result.latencies_ms) / result.elapsed_s}
            out.update(_stage_runs(server, clients, admin, users, args, seconds))
            stats_path = workdir / "feed-c8.pstats"
            admin.post("/bench/profile/start")
            result = clients.submit(loadgen.http_cell, server.base_url, users, TARGET_CONCURRENCY,
                                    args.max_requests, seconds, 0, PAGE_SIZE).result()
            admin.post("/bench/profile/stop", params={"path": str(stats_path)})
            out["profiled_requests"] = len(result.latencies_ms)
            out["profiled_client"] = report.summarise(result.latencies_ms)
            out["pstats"] = report.profile_digest(str(stats_path))
            kept = Path(tempfile.gettempdir()) / "bench-feed-c8.pstats"
            kept.write_bytes(stats_path.read_bytes())
            log(f"cProfile stats kept in {kept} (python -m pstats {kept})")
    with Server(spec.keyspace, INSTRUMENTED_APP, {"BENCH_FAST_VECTORS": "1"}) as server, \
            ProcessPoolExecutor(1, mp_context=ctx) as clients:
        log(f"what-if on {spec.keyspace}: numpy vector codec, app pid {server.pid}")
        clients.submit(loadgen.http_cell, server.base_url, users, 8, 10**9, args.warmup, 0,
                       PAGE_SIZE).result()
        with httpx.Client(base_url=server.base_url, timeout=30) as admin:
            out["fast_vectors"] = _stage_runs(server, clients, admin, users, args, seconds)
    return out


# ---------------------------------------------------------------- rendering

def verdict(value: float, target: float, unit: str = " ms", digits: int = 1) -> str:
    if value != value:
        return "n/a"
    v, d = f"{value:.{digits}f}{unit}", f"{abs(value - target):.{digits}f}{unit}"
    if value <= target:
        return f"**MET**: {v} ({d} under, {100 * (target - value) / target:.0f}% headroom)"
    return f"**MISSED**: {v} ({d} over = {100 * (value - target) / target:.0f}% above target)"


def evaluate(results: dict) -> list[tuple[str, str, bool | None]]:
    scale = results["scales"].get(TARGET_SCALE)
    cell = scale["cells"].get(TARGET_CONCURRENCY) if scale else None
    if cell is None:
        return [("all targets", f"n/a: no {TARGET_SCALE // 1000}k-video catalogue at "
                                f"concurrency {TARGET_CONCURRENCY} in this run", None)]
    svc, bare = cell["service"], cell["bare"]
    ratio = svc["p50"] / bare["p50"] if bare["p50"] else float("nan")
    rows = [("Must: p99 ≤ 65 ms", verdict(svc["p99"], MUST_P99_MS), svc["p99"] <= MUST_P99_MS),
            ("Aim: p50 ≤ 8 ms", verdict(svc["p50"], AIM_P50_MS), svc["p50"] <= AIM_P50_MS),
            ("Aim: p99 ≤ 20 ms", verdict(svc["p99"], AIM_P99_MS), svc["p99"] <= AIM_P99_MS),
            ("Aim: service/bare-ANN p50 ≤ 1.3",
             verdict(ratio, AIM_RATIO, "", 2), ratio <= AIM_RATIO),
            ("No non-200 answers (all cells)",
             "**MET** (0)" if results["failures"] == 0 else f"**MISSED** ({results['failures']})",
             results["failures"] == 0)]
    return rows


def capacity_notes(results: dict) -> list[str]:
    """What the CPU budget allows: with closed-loop clients, mean latency = concurrency /
    throughput, and throughput cannot exceed cores / CPU-per-request."""
    scale = results["scales"].get(TARGET_SCALE)
    cell = scale["cells"].get(TARGET_CONCURRENCY) if scale else None
    if cell is None:
        return []
    svc, bare = cell["service"], cell["bare"]
    cpu = {k: v or 0.0 for k, v in svc["cpu_ms_per_req"].items()}
    bare_cpu = {k: v or 0.0 for k, v in bare["cpu_ms_per_req"].items()}
    cores = os.cpu_count() or 1
    total = sum(cpu.values())
    bare_total = sum(bare_cpu.values())
    ceiling = 1000.0 * cores / total if total else float("nan")
    bare_ceiling = 1000.0 * cores / bare_total if bare_total else float("nan")
    c = TARGET_CONCURRENCY
    return [
        f"**CPU budget at {TARGET_SCALE // 1000}k, concurrency {c}.** One feed request cost "
        f"{total:.1f} ms of CPU in all (app {cpu.get('server', 0):.1f}, Cassandra "
        f"{cpu.get('cassandra', 0):.1f}, load generator {cpu.get('client', 0):.1f}); on "
        f"{cores} cores that caps throughput near {ceiling:.0f} req/s, and {c} closed-loop "
        f"clients then wait at least {1000.0 * c / ceiling:.0f} ms per request on average "
        f"(Little's law; measured: {svc['throughput']:.0f} req/s, mean {svc['mean']:.1f} ms). "
        f"The bare ANN query alone cost {bare_total:.1f} ms of CPU (Cassandra "
        f"{bare_cpu.get('cassandra', 0):.1f}, client {bare_cpu.get('client', 0):.1f}): ceiling "
        f"~{bare_ceiling:.0f} q/s, i.e. ≥ {1000.0 * c / bare_ceiling:.0f} ms mean at {c} in "
        f"flight (measured p50 {bare['p50']:.1f} ms). Cassandra's figure includes whatever "
        "else the shared node was doing (other engineers' test keyspaces).", ""]


def _quiet_text(scale: dict) -> str:
    q = scale.get("quiet") or {}
    text = (f"At the start of the measurement: load {q.get('load1', float('nan')):.2f}, Cassandra "
            f"compactions running: {', '.join(q.get('compactions') or []) or 'none'}")
    if q.get("waited_s"):
        text += f" (after waiting {q['waited_s']:.0f} s for a quieter machine"
        text += ")" if q.get("quiet") else ", in vain)"
    return text + (f"; at the end: {', '.join(scale.get('compactions_after') or []) or 'none'}.")


def _cpu(value) -> str:
    return "–" if value is None else f"{value:.1f}"


def render(results: dict, args) -> str:
    m = results["machine"]
    lines = [
        f"Measured {results['date']} with `{results['command']}` "
        f"(total run time {results['wall_s'] / 60:.1f} min).",
        "",
        "**Machine**",
        "",
        f"* CPU: {m['cpu']}; RAM: {m['ram']}; {m['os']}",
        f"* Java: `{m['java']}`",
        f"* Cassandra: {m['cassandra']}",
        f"* Python: {m['python']}; uvicorn {results['versions']['uvicorn']} "
        f"(event loop: {results['versions']['loop']}, HTTP parser: {results['versions']['http']}), "
        f"FastAPI {results['versions']['fastapi']}, cassandra-driver "
        f"{results['versions']['cassandra-driver']}, httpx {results['versions']['httpx']}",
        f"* Load average (1/5/15 min) at start: {results['load_start']}; at end: "
        f"{results['load_end']}. Busiest other processes at start: "
        f"{'; '.join(results['others_start']) or 'none above 5% CPU'}.",
        "",
        "**Method.** Cassandra, the app, the load generator and anything else running share "
        "the same cores, so every figure below includes that contention. "
        "The app is the real `killrvideo_reco.api.app:create_app` under "
        "`uvicorn --factory --log-level warning` (one process, env "
        "`CASSANDRA_KEYSPACE=bench_<size>`, `EMBEDDING_PROVIDER=hashing`). "
        "The load generator is another process: closed-loop asyncio + httpx clients "
        f"(keep-alive, one connection per client), each request "
        f"`GET /api/v1/recommendations/foryou?pageSize={PAGE_SIZE}` for a random one of the "
        "seeded users with a viewer JWT (`killrvideo_reco.auth.mint`); latency is measured in "
        "the client, from sending the request to having the parsed JSON body. "
        f"Each cell stops at {args.max_requests} requests or {args.seconds:g} s, whichever "
        f"comes first, after {args.warmup:g} s of warm-up per catalogue and a short one per cell. "
        f"**Bare ANN** is the feed's own prepared statement (`VideoStore.nearest`'s SELECT, "
        f"`LIMIT {results['ann_limit']}` = `feed_rules.first_ann_limit` for page 1 with the default "
        f"window {results['window']} and over-fetch {results['overfetch']:g}) run through the "
        "driver and the same asyncio bridge (`store.aio.execute`) from a third process with the "
        "stored preference vectors, at the same concurrency. *service/bare* is the ratio of the "
        "two p50s. CPU ms/request is the CPU time each process used during the cell divided by "
        "the requests; *other* is the CPU used by processes outside the benchmark.",
        "",
    ]
    for size, scale in sorted(results["scales"].items()):
        marker = scale["marker"]
        t = marker.get("timings", {})
        seeded = (f"seeded {marker.get('seeded_at')} in {t.get('seed_total_s', '?')} s "
                  f"(videos {t.get('videos_s', '?')} s = "
                  f"{size / t['videos_s']:.0f} videos/s through `VideoStore.add`, "
                  if t.get("videos_s") else "seeded earlier (")
        seeded += (f"history {t.get('history_s', '?')} s, profiles {t.get('profiles_s', '?')} s; "
                   f"then flush {t.get('flush_s', '–')} s + major compaction "
                   f"{t.get('compact_s', '–')} s)")
        spec = marker["spec"]
        lines += [
            f"### {size // 1000}k videos (keyspace `{scale['keyspace']}`)",
            "",
            f"{size:,} videos with {spec['dimension']}-d unit vectors in {spec['clusters']} "
            f"clusters (noise norm {spec['noise']}), {spec['users']:,} users with "
            f"{spec['history']} watched videos each "
            f"({int(100 * spec['favourite_share'])}% from 2-3 favourite clusters) and a stored "
            f"preference vector + 20 'recent positive' entries; {seeded}. "
            f"{'Cached: this run did not seed.' if marker.get('cached') else 'Seeded by this run.'} "
            f"SSTables in `videos` when measured: "
            f"{scale['sstables'] if scale['sstables'] is not None else '?'}. "
            f"{_quiet_text(scale)}",
            "",
            "| Concurrency | Requests | Non-200 | Throughput (req/s) | p50 ms | p95 ms | p99 ms "
            "| Bare ANN p50 / p95 / p99 ms | Bare ANN q/s | CPU ms/ANN query: Cassandra / client "
            "| service/bare p50 "
            "| CPU ms/request: app / Cassandra / client | Other CPU (cores) | Load avg (1 min) |",
            "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---|",
        ]
        for c, cell in sorted(scale["cells"].items()):
            s, b = cell["service"], cell["bare"]
            cpu = s["cpu_ms_per_req"]
            lines.append(
                f"| {c} | {s['n']} ({s['stopped_by']}) | {s['failures']} | {s['throughput']:.0f} "
                f"| {report.ms(s['p50'])} | {report.ms(s['p95'])} | {report.ms(s['p99'])} "
                f"| {report.ms(b['p50'])} / {report.ms(b['p95'])} / {report.ms(b['p99'])} "
                f"| {b['throughput']:.0f} "
                f"| {_cpu(b['cpu_ms_per_req'].get('cassandra'))} / {_cpu(b['cpu_ms_per_req'].get('client'))} "
                f"| {s['p50'] / b['p50']:.2f} "
                f"| {_cpu(cpu.get('server'))} / {_cpu(cpu.get('cassandra'))} / {_cpu(cpu.get('client'))} "
                f"| {s['other_cpu_per_s']:.2f} "
                f"| {s['load_before'][0]:.2f} → {s['load_after'][0]:.2f} |")
        srcs = {}
        for cell in scale["cells"].values():
            for k, v in cell["service"]["sources"].items():
                srcs[k] = srcs.get(k, 0) + v
        rows = [cell["service"]["rows_per_answer"] for cell in scale["cells"].values()]
        lines += ["", f"Non-200 answers during the warm-ups: {scale['warmup_failures']}. "
                      f"Every 200 answer was checked: feed source {json.dumps(srcs)}, "
                      f"{min(rows):.1f}–{max(rows):.1f} items per page; the bare ANN returned "
                      f"{min(c['bare']['rows_per_answer'] for c in scale['cells'].values()):.0f} "
                      f"rows per query.", ""]
        lines += heavy.lines(scale)
        errs = [e for cell in scale["cells"].values() for e in cell["service"]["errors"]]
        if errs:
            lines += [f"Errors seen: {errs[:3]}", ""]

    lines += ["### Targets", "",
              f"Evaluated at {TARGET_SCALE // 1000}k videos, concurrency {TARGET_CONCURRENCY} "
              "(client-measured, as in the table).", "",
              "| Target | Result |", "|---|---|"]
    lines += [f"| {name} | {text} |" for name, text, _ in results["targets"]]
    lines.append("")
    lines += capacity_notes(results)
    if results.get("profile"):
        lines += render_profile(results["profile"])
    if results.get("notes"):
        lines += ["### Notes", "", *results["notes"], ""]
    return "\n".join(lines)


def _stage_rows(stages: dict, requests: int) -> list[str]:
    rows = []
    order = sorted(stages.items(), key=lambda kv: -sum(kv[1]["ms"]))
    for name, data in order:
        values = data["ms"]
        per_req = sum(values) / max(requests, 1)
        calls = sum(data["calls"]) / max(requests, 1)
        rows.append(f"| {name} | {calls:.2f} | {report.ms(report.pct(values, 50))} "
                    f"| {report.ms(report.pct(values, 99))} | {per_req:.2f} |")
    return rows


def render_profile(p: dict) -> list[str]:
    lines = ["### Profile", "",
             f"The app served again on `{p['keyspace']}`, this time through "
             "`bench/instrumented.py` (the same app with `time.perf_counter` wrappers around the "
             "feed's stages; the service code is unchanged), for "
             f"{p['seconds']:g} s per step. Stage times are wall-clock inside the app process, so "
             "at concurrency > 1 they include waiting for the event loop.", "",
             "**HTTP floor**: `GET /healthz` (no auth, no Cassandra) through the same client and "
             f"server: concurrency 1 p50 {p['healthz_c1']['p50']:.1f} ms / p99 "
             f"{p['healthz_c1']['p99']:.1f} ms ({p['healthz_c1']['throughput']:.0f} req/s); "
             f"concurrency {TARGET_CONCURRENCY} p50 {p[f'healthz_c{TARGET_CONCURRENCY}']['p50']:.1f} ms "
             f"/ p99 {p[f'healthz_c{TARGET_CONCURRENCY}']['p99']:.1f} ms "
             f"({p[f'healthz_c{TARGET_CONCURRENCY}']['throughput']:.0f} req/s).", ""]
    for c in (1, TARGET_CONCURRENCY):
        stages = p[f"stages_c{c}"]
        n = len(stages.get("app: whole request in ASGI app", {}).get("ms", [])) or 1
        client = p[f"client_c{c}"]
        threads = ", ".join(f"{name} {value:.2f}" for name, value in p[f"threads_c{c}"]
                            if value >= 0.01)
        lines += [f"**Concurrency {c}** ({n} requests, {client['throughput']:.0f} req/s; "
                  f"client-side p50 {client['p50']:.1f} ms, p99 {client['p99']:.1f} ms)", "",
                  "| Stage | Calls/request | p50 ms | p99 ms | Mean ms/request |",
                  "|---|---:|---:|---:|---:|", *_stage_rows(stages, n), "",
                  f"App CPU per request by thread (ms): {threads}.", ""]
    d = p["pstats"]
    lines += [f"**cProfile of the app's event-loop thread** at concurrency {TARGET_CONCURRENCY} "
              f"({p['profiled_requests']} requests, client p50 {p['profiled_client']['p50']:.1f} ms "
              f"under the profiler; {d['total_s']:.1f} s of profiled own time = "
              f"{1000 * d['total_s'] / max(p['profiled_requests'], 1):.2f} ms per request). "
              "Timer: the thread's CPU time, so time spent descheduled is not charged; "
              "the driver's I/O thread and the threadpool are not in it.", "",
              "| Where (own time) | s | share |", "|---|---:|---:|"]
    lines += [f"| {name} | {secs:.2f} | {100 * secs / d['total_s']:.0f}% |"
              for name, secs in d["buckets"][:10]]
    lines += ["", "Top functions by own time:", "", "| Function | own s | cumulative s | calls |",
              "|---|---:|---:|---:|"]
    lines += [f"| `{name}` | {tt:.2f} | {ct:.2f} | {nc} |" for tt, ct, nc, name in d["top"][:15]]
    lines += ["", "Top functions by cumulative time:", "",
              "| Function | cumulative s | own s | calls |", "|---|---:|---:|---:|"]
    lines += [f"| `{name}` | {ct:.2f} | {tt:.2f} | {nc} |" for tt, ct, nc, name in d["cumulative"][:15]]
    lines.append("")
    fast = p.get("fast_vectors")
    if fast:
        lines += ["**What-if: numpy vector codec.** The same instrumented app with "
                  "`BENCH_FAST_VECTORS=1`: `bench/instrumented.py` replaces the driver's "
                  "`VectorType` (de)serialisation of `vector<float, n>` (a Python loop over "
                  "the elements) with `numpy.frombuffer` / `tobytes`; nothing else changes. "
                  "Run right after the profile above, same catalogue and client.", "",
                  "| Concurrency | Codec | req/s | p50 ms | p95 ms | p99 ms | App CPU ms/request "
                  "(event loop / driver I/O) |", "|---:|---|---:|---:|---:|---:|---|"]
        for c in (1, TARGET_CONCURRENCY):
            for label, data in (("driver (as shipped)", p), ("numpy (what-if)", fast)):
                client = data[f"client_c{c}"]
                threads = dict(data[f"threads_c{c}"])
                total = sum(threads.values())
                lines.append(
                    f"| {c} | {label} | {client['throughput']:.0f} | {report.ms(client['p50'])} "
                    f"| {report.ms(client['p95'])} | {report.ms(client['p99'])} | {total:.1f} "
                    f"({threads.get('main thread (asyncio event loop)', 0):.1f} / "
                    f"{threads.get('driver I/O thread (libev)', 0):.1f}) |")
        lines.append("")
    return lines


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

    settings = Settings()
    ann_limit = feed_rules.first_ann_limit(PAGE_SIZE, settings.feed_overfetch_factor,
                                        settings.feed_candidate_window, settings.feed_max_ann_limit)
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
                     "window": settings.feed_candidate_window,
                     "overfetch": settings.feed_overfetch_factor, "scales": {}, "notes": []}
    for spec in args.specs:
        sstables = seed.sstable_count(spec.keyspace)
        quiet = wait_quiet(args) if args.wait_quiet > 0 else {
            "waited_s": 0.0, "load1": os.getloadavg()[0], "compactions": active_compactions(),
            "quiet": None}
        cells, meta = measure_scale(spec, args, ann_limit, users[spec.keyspace],
                                    heavy_users[spec.keyspace])
        results["scales"][spec.videos] = {"keyspace": spec.keyspace, "marker": markers[spec.keyspace],
                                          "cells": cells, "sstables": sstables, "quiet": quiet,
                                          "warmup_failures": meta["warmup_failures"],
                                          "heavy": meta["heavy"],
                                          "compactions_after": active_compactions()}
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
