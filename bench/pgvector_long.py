"""Long-history viewers: what the PR's NOT IN cap of 5,000 ids lets back into the top 10,
what the NOT IN list costs, and what our exact exclusion returns for the same viewers.
Concurrency 1, each variant repeated up to a count and a time budget."""
from __future__ import annotations

import json
import time

from bench import report, retrieval
from bench.pgvector_cells import HISTORY_SQL, K, OurRetrieval, exact_answers, peer_answer, quality
from bench.pgvector_load import Catalogue, Viewer

CAPPED = "pgvector: NOT IN capped at 5,000 ids (the PR)"
FULL = "pgvector: NOT IN the whole history (no cap)"
BARE = "pgvector: no exclusion (the vector query alone)"
OURS = "Cassandra: ANN + exact exclusion (ours)"
VARIANTS = {CAPPED: {"cap": retrieval.PEER_EXCLUSION_CAP}, FULL: {"cap": None},
            BARE: {"exclude": False}, OURS: None}


async def _repeat(answer, repeats: int, max_seconds: float) -> tuple[list, dict, dict]:
    """The first answer, its details, and the latencies of up to `repeats` answers."""
    latencies, history_ms, query_ms = [], [], []
    first = None
    deadline = time.perf_counter() + max_seconds
    while len(latencies) < repeats and (not latencies or time.perf_counter() < deadline):
        started = time.perf_counter()
        ids, info = await answer()
        latencies.append(1000 * (time.perf_counter() - started))
        history_ms.append(info.get("history_ms", 0.0))
        query_ms.append(info.get("query_ms", 0.0))
        first = first or (ids, info)
    timing = {**report.summarise(latencies), "history_p50": report.pct(history_ms, 50),
              "query_p50": report.pct(query_ms, 50)}
    return first[0], first[1], timing


async def explain(conn, viewer: Viewer, cap: int | None) -> dict:
    """EXPLAIN ANALYZE of the peer's vector query: plan, planning and execution time, JIT."""
    cursor = await conn.execute(HISTORY_SQL, (viewer.user_id,))
    excluded = retrieval.exclusion_list([row[0] for row in await cursor.fetchall()], cap)
    sql = "EXPLAIN (ANALYZE, FORMAT JSON) " + retrieval.peer_sql(len(excluded))
    cursor = await conn.execute(sql, (*excluded, viewer.profile_literal, K))
    plan = (await cursor.fetchone())[0]
    plan = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
    nodes, node = [], plan["Plan"]
    while node:
        nodes.append(node["Node Type"] + (f" using {node['Index Name']}"
                                          if "Index Name" in node else ""))
        node = (node.get("Plans") or [None])[0]
    return {"plan": " → ".join(nodes), "planning_ms": plan.get("Planning Time"),
            "execution_ms": plan.get("Execution Time"), "jit": "JIT" in plan}


async def long_history_pass(uri: str, ours: OurRetrieval, catalogue: Catalogue,
                            viewers: list[Viewer], ef_search: int, repeats: int,
                            max_seconds: float) -> list[dict]:
    import psycopg

    exact = exact_answers(catalogue, viewers)
    out = []
    async with await psycopg.AsyncConnection.connect(uri, autocommit=True,
                                                     prepare_threshold=None) as conn:
        await conn.execute(f"SET hnsw.ef_search = {int(ef_search)}")
        for viewer, reference in zip(viewers, exact):
            entry = {"history": len(viewer.history_set), "variants": {},
                     "explain": {CAPPED: await explain(conn, viewer, retrieval.PEER_EXCLUSION_CAP),
                                 FULL: await explain(conn, viewer, None)}}
            for name, options in VARIANTS.items():
                if options is None:
                    answer = lambda v=viewer: ours.answer(v)  # noqa: E731
                else:
                    answer = lambda v=viewer, o=options: peer_answer(conn, v, K, **o)  # noqa: E731
                ids, info, timing = await _repeat(answer, repeats, max_seconds)
                entry["variants"][name] = {
                    **timing, **quality(ids, reference, viewer, catalogue),
                    "excluded": info.get("excluded"), "final_limit": info.get("final_limit")}
            out.append(entry)
    return out
