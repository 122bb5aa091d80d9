"""The "## Side by side: PostgreSQL + pgvector" block of docs/benchmarks.md. Only the text
between its markers is rewritten; the other sections are left alone."""
from __future__ import annotations

from pathlib import Path

from bench import report
from bench.pgvector_long import BARE, CAPPED, FULL, OURS
from bench.report import ms

HEADING = "Side by side: PostgreSQL + pgvector"
BEGIN, END = "<!-- pgvector:begin -->", "<!-- pgvector:end -->"


def update_doc(path: Path, block: str) -> None:
    report.update_doc(path, block, BEGIN, END, heading=HEADING)


def _load(values) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def _cpu(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def render(results: dict) -> str:
    m = results["machine"]
    first = next(iter(results["scales"].values()), None)
    versions = first["loading"]["versions"] if first else {}
    a = results["args"]
    window = first["window"] if first else "?"
    lines = [
        f"_Measured {results['date']} with `{results['command']}` "
        f"({results['wall_s']:.0f} s). Machine: {m['cpu']}, {m['ram']} RAM, {m['os']}, "
        f"{m['python']}; Cassandra {m['cassandra']}; PostgreSQL {versions.get('postgres')} with "
        f"pgvector {versions.get('pgvector')} from the `pgserver` wheel (shared_buffers "
        f"{versions.get('shared_buffers')}, jit {versions.get('jit')}, unix socket), on the same "
        f"machine. Load average (1/5/15 min): {_load(results['load_start'])} at the start, "
        f"{_load(results['load_end'])} at the end._",
        "",
        "Both systems answer the same question, the **retrieval stage**: the 10 videos nearest "
        "to the viewer's stored preference vector that the viewer has not watched or hidden.",
        "",
        "* **pgvector, as the seeds' pull request designs it**: per request `SELECT DISTINCT "
        "videoid FROM viewer_history WHERE userid = $1`, then `SELECT videoid FROM videos WHERE "
        "videoid NOT IN ($2, …) ORDER BY embedding <=> $n::vector LIMIT 10` with the list cut "
        "at its first 5,000 ids (the PR's `MAX_EXCLUSION_LIST_SIZE`). HNSW index "
        "(`vector_cosine_ops`, m 16, ef_construction 64) and `hnsw.ef_search` "
        f"{a['ef_search'][0]}: pgvector's defaults, which the PR keeps. psycopg 3 async pool, "
        "one connection per concurrent client, unnamed statements (as the PR's driver sends).",
        "* **Cassandra, ours**: the feed's content search: `SELECT videoid FROM videos ORDER BY "
        f"content_features ANN OF ? LIMIT {window}` (`FEED_CONTENT_CANDIDATES`), the exact "
        "exclusion `ViewerStore.seen_among` (single-partition `IN` lookups of the candidates "
        "in the viewer's history), widened ×2 up to LIMIT 1000 while more than half of a full "
        "answer was watched (`service/retrieval.py`), then the first 10 unseen. Our feed goes "
        "on to a second stage (behaviour-space and popular candidates, a trained ranking, "
        "shaping) that the PR has no counterpart for: it is not measured here; the whole "
        "feed is in *Feed latency* above.",
        "",
        "Same data (the bench keyspace's videos, viewers, preference vectors and histories, "
        "read from Cassandra and copied into PostgreSQL), same viewers in the same seeded "
        "order, same closed-loop generator (`bench/loadgen.py`), client in one Python process "
        "(its loaded data frozen out of the garbage collector, `gc.freeze()`). "
        "The profile vector is given to both (the PR would read it from a table first). "
        f"Latency cells: {a['warmup']:g} s warm-up, then up to {a['max_requests']} requests or "
        f"{a['seconds']:g} s. CPU ms/request is the database server's CPU (Cassandra's JVM; "
        "PostgreSQL's postmaster and its backends) and the client's, divided by the requests; "
        "*machine busy* is the share of both cores in use during the cell, by anything (the "
        "machine and the Cassandra node are shared).",
        "",
    ]
    for keyspace, scale in results["scales"].items():
        lines += _scale(keyspace, scale, a)
    return "\n".join(lines)


def _scale(keyspace: str, s: dict, a: dict) -> list[str]:
    load = s["loading"]
    built = ("cached from an earlier run" if load["videos_cached"] else
             f"copied in {load['copy_videos_s']:.1f} s, HNSW index built in "
             f"{load['index_build_s']:.1f} s")
    lines = [f"### {s['videos'] // 1000}k videos (`{keyspace}`)", "",
             f"{s['videos']:,} videos, {s['viewers']:,} viewers with {s['history_rows']:,} "
             f"history rows (seeded {s['marker'].get('seeded_at')}). PostgreSQL copy: table "
             f"{load['table_mb']:.0f} MB, index {load['index_mb']:.0f} MB, {built}.", "",
             f"**Recall@10 against exact search** (brute-force cosine over every video minus "
             f"the viewer's whole history); each system answers each of "
             f"{next(iter(s['recall'].values()))['viewers']:,} viewers once, concurrency 1. A "
             "missing row counts as a miss. *Cosine of unwatched rows / exact*: the summed "
             "cosine to the profile of the answer's unwatched rows over that of the exact top "
             "10 (1.0: as good as exact; watched and missing rows add nothing).", "",
             "| System | Mean recall@10 | Viewers at 10/10 | Lowest "
             "| Cosine of unwatched rows / exact | Answers with < 10 rows "
             "| Watched videos in the answers | p50 / p99 ms |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for name, r in s["recall"].items():
        label = (f"Cassandra (ours; {r['widened']} answers widened)" if name == "cassandra"
                 else name.replace("pgvector", "pgvector (the PR)"))
        lines.append(f"| {label} | {r['recall_mean']:.3f} | {r['perfect']} | "
                     f"{r['recall_min']:.1f} | {r['similarity_mean']:.3f} | {r['short']} "
                     f"| {r['watched']} | "
                     f"{ms(r['p50'])} / {ms(r['p99'])} |")
    lines += ["", f"**Latency under load** (hnsw.ef_search {a['ef_search'][0]}):", "",
              "| System | Concurrency | Requests (bound hit) | Failed | Throughput (req/s) "
              "| p50 ms | p95 ms | p99 ms | CPU ms/request: database / client "
              "| Database CPU when idle (ms/s) | Rows per answer (min) | Machine busy "
              "| Load avg (1 min) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|"]
    for c, pair in s["cells"].items():
        for name, cell in (("pgvector (the PR)", pair["pgvector"]),
                           ("Cassandra (ours)", pair["cassandra"])):
            lines.append(
                f"| {name} | {c} | {cell['n']} ({cell['stopped_by']}) | {cell['failures']} "
                f"| {cell['throughput']:.0f} | {ms(cell['p50'])} | {ms(cell['p95'])} "
                f"| {ms(cell['p99'])} | {_cpu(cell['db_cpu_ms'])} / {_cpu(cell['client_cpu_ms'])} "
                f"| {_cpu(cell['db_idle_cpu_ms_per_s'])} "
                f"| {cell['rows_mean']:.1f} ({cell['rows_min']}) "
                f"| {cell['machine_busy_pct']:.0f}% "
                f"| {cell['load_before']:.2f} → {cell['load_after']:.2f} |")
    errors = [e for pair in s["cells"].values() for cell in pair.values() for e in cell["errors"]]
    if errors:
        lines += ["", f"Errors: {errors[:3]}"]
    if s["long"]:
        lines += _long(s["long"], a)
    lines += _notes(s, a)
    lines.append("")
    return lines


def _notes(s: dict, a: dict) -> list[str]:
    """Sentences computed from this run's figures (nothing here is typed in by hand)."""
    notes = []
    for e in s["long"]:
        capped, full, ours = (e["variants"][n] for n in (CAPPED, FULL, OURS))
        if capped["excluded"] is not None and e["history"] > capped["excluded"]:
            notes.append(
                f"With {e['history']:,} watched videos the PR's query excluded "
                f"{capped['excluded']:,} of them and answered {capped['rows']} rows, "
                f"{capped['watched']} already watched (vector query p50 "
                f"{ms(capped['query_p50'])} ms vs {ms(e['variants'][BARE]['query_p50'])} ms "
                f"with no NOT IN); with the whole history in NOT IN it answered {full['rows']} "
                f"rows ({full['watched']} watched) in {ms(full['query_p50'])} ms. Ours answered "
                f"{ours['rows']} rows, {ours['watched']} watched, in {ms(ours['p50'])} ms "
                f"(ANN widened to LIMIT {ours['final_limit']}).")
    peer_short = any(v["rows"] < 10 for e in s["long"] for n, v in e["variants"].items()
                     if n != OURS) or any(r["short"] for n, r in s["recall"].items()
                                          if n != "cassandra")
    if peer_short:
        notes.append(
            f"Answers shorter than 10 rows from pgvector: its HNSW scan hands at most "
            f"`hnsw.ef_search` ({a['ef_search'][0]}) candidates to the `NOT IN` filter, and "
            "pgvector before 0.8 has no iterative index scan to fetch more, so when watched "
            "videos fill those candidates the answer has holes or is empty.")
    ours_short = any(e["variants"][OURS]["rows"] < 10 for e in s["long"])
    if ours_short or s["recall"]["cassandra"]["short"]:
        notes.append(
            "Answers shorter than 10 rows from Cassandra: our exclusion is exact, but the "
            "content search stops widening at LIMIT 1000 (Cassandra's cap); the feed then "
            "fills the page from its behaviour-space and popular candidates.")
    return [line for note in notes for line in ("", note)]


def _long(entries: list[dict], a: dict) -> list[str]:
    lines = ["", "**Long-history viewers.** Synthetic heavy viewers, built like the seed's: 70% "
             "of the history is the videos nearest three favourite videos, the rest anywhere; "
             "their preference vector is the unit mean of the history. Their rows are in the "
             "PostgreSQL copy and in Cassandra keyspace `bench_pg_long` (the project's schema, "
             "dropped after the run). Each variant answers up to "
             f"{a['long_repeats']} times (or {a['seconds']:g} s), concurrency 1; *watched* "
             "checks the answer against the whole history.", "",
             "| Watched videos | Variant | Ids in NOT IN | Rows | Watched in the top 10 "
             "| Recall@10 | Cosine of unwatched rows / exact | p50 ms | p99 ms "
             "| p50 ms: history fetch / vector query |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for e in entries:
        for name, v in e["variants"].items():
            excluded = "–" if v["excluded"] is None else f"{v['excluded']:,}"
            if name == OURS:
                excluded = f"– (ANN LIMIT reached {v['final_limit']})"
            split = ("–" if name == OURS else
                     f"{ms(v['history_p50'])} / {ms(v['query_p50'])}")
            lines.append(f"| {e['history']:,} | {name} | {excluded} | {v['rows']} "
                         f"| {v['watched']} | {v['recall']:.1f} | {v['similarity']:.3f} "
                         f"| {ms(v['p50'])} "
                         f"| {ms(v['p99'])} | {split} |")
    lines += ["", "PostgreSQL's plan for the vector query (`EXPLAIN ANALYZE`, one run):", ""]
    for e in entries:
        for name in (CAPPED, FULL):
            x = e["explain"][name]
            lines.append(f"* {e['history']:,} watched, {name.split('pgvector: ')[1]}: "
                         f"{x['plan']}; planning {x['planning_ms']:.1f} ms, execution "
                         f"{x['execution_ms']:.1f} ms{', JIT' if x['jit'] else ''}.")
    return lines
