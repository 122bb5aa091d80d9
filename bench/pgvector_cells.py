"""What the pgvector side-by-side measures, for both systems on the same viewers:

* the retrieval stage: 10 unseen videos for a viewer's profile. The peer's request is the
  PR's (its watched ids, then one NOT IN + ORDER BY embedding <=> profile query); ours is
  the feed's content search (ANN over-fetch, exact exclusion with ViewerStore.seen_among,
  widening as service/retrieval.py does);
* latency cells under bench/loadgen.py's closed loop, bounded by count and time;
* recall@10 against the exact reference, and the long-history viewers.
"""
from __future__ import annotations

import asyncio
import os
import random
import time
import uuid

import numpy as np

from bench import machine, report, retrieval
from bench.loadgen import CellResult, _closed_loop
from bench.pgvector_load import Catalogue, Viewer
from killrvideo_reco.service.retrieval import MAX_ANN_LIMIT
from killrvideo_reco.store.aio import execute
from killrvideo_reco.store.viewers import ViewerStore

K = 10
HISTORY_SQL = "SELECT DISTINCT videoid FROM viewer_history WHERE userid = %s"


async def peer_answer(conn, viewer: Viewer, k: int = K,
                      cap: int | None = retrieval.PEER_EXCLUSION_CAP,
                      exclude: bool = True) -> tuple[list[uuid.UUID], dict]:
    """The PR's request: the viewer's watched ids, then the capped NOT IN vector query.
    `exclude=False` runs the vector query alone (what the NOT IN list costs)."""
    started = time.perf_counter()
    excluded: list[uuid.UUID] = []
    if exclude:
        cursor = await conn.execute(HISTORY_SQL, (viewer.user_id,))
        excluded = retrieval.exclusion_list([row[0] for row in await cursor.fetchall()], cap)
    fetched = time.perf_counter()
    cursor = await conn.execute(retrieval.peer_sql(len(excluded)),
                                (*excluded, viewer.profile_literal, k))
    ids = [row[0] for row in await cursor.fetchall()]
    done = time.perf_counter()
    return ids, {"excluded": len(excluded), "history_ms": 1000 * (fetched - started),
                 "query_ms": 1000 * (done - fetched)}


class OurRetrieval:
    """The content search of our feed's first stage, ids only (as the peer returns)."""

    def __init__(self, session, keyspace: str, window: int, max_limit: int = MAX_ANN_LIMIT):
        self.session, self.window, self.max_limit = session, window, max_limit
        self.ann = session.prepare(f"SELECT videoid FROM {keyspace}.videos "
                                   "ORDER BY content_features ANN OF ? LIMIT ?")
        self.stores: dict[str, ViewerStore] = {}

    async def answer(self, viewer: Viewer, k: int = K) -> tuple[list[uuid.UUID], dict]:
        store = self.stores.get(viewer.history_keyspace)
        if store is None:
            store = self.stores[viewer.history_keyspace] = ViewerStore(
                self.session, viewer.history_keyspace)
        limit, seen, checked, queries = self.window, set(), set(), 0
        while True:
            rows = await execute(self.session, self.ann, (viewer.profile, limit))
            found = [row.videoid for row in rows]
            new = [v for v in found if v not in checked]
            seen |= await store.seen_among(viewer.user_id, new)
            checked.update(new)
            queries += 1
            fresh = sum(1 for v in found if v not in seen)
            if not retrieval.needs_widening(len(found), fresh, limit, self.max_limit):
                break
            limit = min(limit * 2, self.max_limit)
        return retrieval.first_fresh(found, seen, k), {"final_limit": limit, "ann_queries": queries}


# ---------------------------------------------------------------- CPU accounting

def tree_cpu_s(pid: int | None) -> float | None:
    """CPU seconds of a process and its live children (PostgreSQL: one per connection)."""
    import psutil  # the bench extra's (pgserver's dependency); unit tests import this module

    if not pid:
        return None
    try:
        procs = [psutil.Process(pid)]
        procs += procs[0].children(recursive=True)
    except psutil.Error:
        return None
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def heap_flags(pid: int | None) -> str:
    import psutil

    try:
        return " ".join(a for a in psutil.Process(pid).cmdline()
                        if a.startswith(("-Xmx", "-Xms"))) or "?"
    except (psutil.Error, TypeError, ValueError):
        return "?"


def cassandra_pid() -> int | None:
    """The local node's pid (its pid file may live in another checkout of the repo)."""
    import psutil

    pid = machine.cassandra_pid()
    if pid:
        return pid
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if any("CassandraDaemon" in part for part in proc.info["cmdline"] or ()):
            return proc.info["pid"]
    return None


# ---------------------------------------------------------------- latency cells

async def _cell(kind: str, make_call, concurrency: int, max_requests: int, max_seconds: float,
                warmup_s: float, seed: int, database_cpu) -> dict:
    rows: list[int] = []
    idle_s = min(2.0, max(warmup_s, 0.5))
    # The database's CPU with no load from us: the shared node may be busy for others.
    idle0, idle_started = database_cpu(), time.perf_counter()
    await asyncio.sleep(idle_s)
    idle1 = database_cpu()
    idle = (None if idle0 is None or idle1 is None
            else 1000 * (idle1 - idle0) / (time.perf_counter() - idle_started))
    warm = CellResult("warmup", concurrency)
    await _closed_loop(make_call(random.Random(0), rows), concurrency, 10**9, warmup_s, warm)
    rows.clear()
    db0, client0, (busy0, total0), load0 = (database_cpu(), machine.process_cpu_s(os.getpid()),
                                           machine.machine_cpu(), os.getloadavg())
    result = CellResult(kind, concurrency, warmup_requests=len(warm.latencies_ms))
    # The same seed on both sides: the same viewers in the same order.
    await _closed_loop(make_call(random.Random(seed), rows), concurrency, max_requests,
                       max_seconds, result)
    db1, client1, (busy1, total1) = (database_cpu(), machine.process_cpu_s(os.getpid()),
                                     machine.machine_cpu())
    n = max(len(result.latencies_ms), 1)
    return {**report.summarise(result.latencies_ms), "kind": kind, "concurrency": concurrency,
            "elapsed_s": result.elapsed_s, "stopped_by": result.stopped_by,
            "throughput": len(result.latencies_ms) / max(result.elapsed_s, 1e-9),
            "failures": result.failures + warm.failures, "errors": result.errors + warm.errors,
            "rows_min": min(rows, default=0), "rows_mean": float(np.mean(rows)) if rows else 0.0,
            "db_idle_cpu_ms_per_s": idle,
            "db_cpu_ms": None if db0 is None or db1 is None else 1000 * (db1 - db0) / n,
            "client_cpu_ms": 1000 * (client1 - client0) / n,
            "machine_busy_pct": 100 * (busy1 - busy0) / max(total1 - total0, 1e-9),
            "load_before": load0[0], "load_after": os.getloadavg()[0]}


async def peer_cell(uri: str, viewers: list[Viewer], concurrency: int, max_requests: int,
                    max_seconds: float, warmup_s: float, seed: int, ef_search: int,
                    postmaster: int) -> dict:
    from psycopg_pool import AsyncConnectionPool

    async def configure(conn) -> None:
        await conn.execute(f"SET hnsw.ef_search = {int(ef_search)}")

    # prepare_threshold=None: unnamed statements every time, like the PR's node driver.
    pool = AsyncConnectionPool(uri, min_size=concurrency, max_size=concurrency, open=False,
                               kwargs={"autocommit": True, "prepare_threshold": None},
                               configure=configure)
    await pool.open(wait=True, timeout=30)
    try:
        def make_call(rng: random.Random, rows: list[int]):
            async def call() -> int:
                viewer = rng.choice(viewers)
                async with pool.connection(timeout=30) as conn:
                    ids, _ = await peer_answer(conn, viewer)
                rows.append(len(ids))
                return 200
            return call
        return await _cell("pgvector", make_call, concurrency, max_requests, max_seconds,
                           warmup_s, seed, lambda: tree_cpu_s(postmaster))
    finally:
        await pool.close()


async def our_cell(ours: OurRetrieval, viewers: list[Viewer], concurrency: int,
                   max_requests: int, max_seconds: float, warmup_s: float, seed: int) -> dict:
    pid = cassandra_pid()

    def make_call(rng: random.Random, rows: list[int]):
        async def call() -> int:
            ids, _ = await ours.answer(rng.choice(viewers))
            rows.append(len(ids))
            return 200
        return call
    return await _cell("cassandra", make_call, concurrency, max_requests, max_seconds,
                       warmup_s, seed, lambda: machine.process_cpu_s(pid))


# ---------------------------------------------------------------- recall and long histories

def exact_answers(catalogue: Catalogue, viewers: list[Viewer], k: int = K) -> list[list[uuid.UUID]]:
    watched = [[catalogue.row_of[v] for v in viewer.history_set if v in catalogue.row_of]
               for viewer in viewers]
    profiles = np.stack([viewer.profile for viewer in viewers])
    rows = retrieval.exact_top_k_many(catalogue.vectors, profiles, watched, k)
    return [[catalogue.ids[i] for i in answer] for answer in rows]


def quality(answer: list[uuid.UUID], exact: list[uuid.UUID], viewer: Viewer,
            catalogue: Catalogue) -> dict:
    # Watched rows are worth nothing on a feed page: only the unwatched ones add cosine.
    rows = [catalogue.row_of[v] for v in answer[:K] if v not in viewer.history_set]
    exact_rows = [catalogue.row_of[v] for v in exact]
    return {"recall": retrieval.recall_at_k(answer, exact, K), "rows": len(answer),
            "watched": retrieval.watched_count(answer, viewer.history_set, K),
            "similarity": retrieval.similarity_ratio(rows, exact_rows, catalogue.vectors,
                                                     viewer.profile, K)}


def summarise_quality(per_viewer: list[dict], latencies: list[float]) -> dict:
    recalls = [q["recall"] for q in per_viewer]
    return {"viewers": len(per_viewer), "recall_mean": float(np.mean(recalls)),
            "recall_min": float(min(recalls)), "perfect": sum(r == 1.0 for r in recalls),
            "short": sum(q["rows"] < K for q in per_viewer),
            "watched": sum(q["watched"] for q in per_viewer),
            "similarity_mean": float(np.nanmean([q["similarity"] for q in per_viewer])),
            **report.summarise(latencies)}


async def recall_pass(uri: str, ours: OurRetrieval, catalogue: Catalogue, viewers: list[Viewer],
                      ef_searches: list[int]) -> dict:
    """Each system answers each viewer once (concurrency 1); compared with the exact top 10."""
    import psycopg

    exact = exact_answers(catalogue, viewers)
    out: dict = {}
    async with await psycopg.AsyncConnection.connect(uri, autocommit=True,
                                                     prepare_threshold=None) as conn:
        for ef in ef_searches:
            await conn.execute(f"SET hnsw.ef_search = {int(ef)}")
            scores, latencies = [], []
            for viewer, reference in zip(viewers, exact):
                started = time.perf_counter()
                answer, _ = await peer_answer(conn, viewer)
                latencies.append(1000 * (time.perf_counter() - started))
                scores.append(quality(answer, reference, viewer, catalogue))
            out[f"pgvector ef_search={ef}"] = summarise_quality(scores, latencies)
    scores, latencies, limits = [], [], []
    for viewer, reference in zip(viewers, exact):
        started = time.perf_counter()
        answer, info = await ours.answer(viewer)
        latencies.append(1000 * (time.perf_counter() - started))
        scores.append(quality(answer, reference, viewer, catalogue))
        limits.append(info["final_limit"])
    out["cassandra"] = {**summarise_quality(scores, latencies),
                        "widened": sum(limit > ours.window for limit in limits)}
    return out
