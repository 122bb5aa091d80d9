"""The "## Feed latency" block of docs/benchmarks.md, rendered from run_all's results: the
tables per catalogue, the heavy watchers' cell, the targets and the profile phase."""
from __future__ import annotations

import json
import os

from bench import heavy, report

PAGE_SIZE = 10
TARGET_SCALE, TARGET_CONCURRENCY = 100_000, 8
MUST_P99_MS, AIM_P50_MS, AIM_P99_MS, AIM_RATIO = 65.0, 8.0, 20.0, 1.3

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
        f"`LIMIT {results['ann_limit']}`, what a page of {PAGE_SIZE} needs with an over-fetch of "
        "2) run through the "
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
