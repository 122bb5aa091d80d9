"""make bench's profile phase: the app served again with bench-only stage timers and a
cProfile of its event loop, when a target is missed (or --profile)."""
from __future__ import annotations

import multiprocessing
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx

from bench import loadgen, machine, report, seed
from bench.feed_block import PAGE_SIZE, TARGET_CONCURRENCY
from bench.report import log
from bench.server import INSTRUMENTED_APP, Server


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
