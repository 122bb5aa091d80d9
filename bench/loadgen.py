"""Load generation, run in worker processes of their own (never in the server's):

* `http_cell`: closed-loop asyncio + httpx clients against the served app;
* `ann_cell`: the feed's ANN SELECT straight through the driver (the "bare" query).

Each cell is bounded by a request count AND a wall-clock budget, after a warm-up whose
answers are discarded. Latencies are returned raw (ms) so that the parent computes
the percentiles.
"""
from __future__ import annotations

import asyncio
import gc
import os
import random
import time
import uuid
from dataclasses import dataclass, field

FEED_PATH = "/api/v1/recommendations/foryou"


def freeze_client_heap() -> None:
    """Before a timed cell: what the load generator has loaded (the app's modules, numpy,
    the driver, tokens) out of its own garbage collector's full collections, which
    otherwise stall every request in flight (114 ms, measured in bench.overload's
    client) and land in the service's tail latencies."""
    gc.collect()
    gc.freeze()


@dataclass
class CellResult:
    kind: str                 # "service" or "bare"
    concurrency: int
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)  # non-200 HTTP codes (0: exception)
    errors: list[str] = field(default_factory=list)         # first few error texts
    elapsed_s: float = 0.0
    warmup_requests: int = 0
    stopped_by: str = ""     # "count" or "time"
    rows_per_answer: float = 0.0
    sources: dict[str, int] = field(default_factory=dict)  # feed "source" of 200 answers
    pid: int = 0

    @property
    def failures(self) -> int:
        return sum(self.statuses.values())


def worker_pid() -> int:
    return os.getpid()


async def _closed_loop(call, concurrency: int, max_requests: int, max_seconds: float,
                       result: CellResult) -> None:
    """`concurrency` workers issuing `call()` back to back until either bound is hit."""
    freeze_client_heap()
    issued = 0
    deadline = time.perf_counter() + max_seconds

    async def worker() -> None:
        nonlocal issued
        while issued < max_requests and time.perf_counter() < deadline:
            issued += 1
            start = time.perf_counter()
            try:
                status = await call()
            except Exception as error:  # noqa: BLE001 - counted, never fatal
                status = 0
                if len(result.errors) < 5:
                    result.errors.append(f"{type(error).__name__}: {error}"[:300])
            result.latencies_ms.append((time.perf_counter() - start) * 1000.0)
            if status != 200:
                result.statuses[status] = result.statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed_s = time.perf_counter() - started
    result.stopped_by = "count" if issued >= max_requests else "time"


# ---------------------------------------------------------------- service (HTTP)

def http_cell(base_url: str, users: list[str], concurrency: int, max_requests: int,
              max_seconds: float, warmup_seconds: float, page_size: int = 10,
              seed: int = 1, path: str = FEED_PATH) -> CellResult:
    from killrvideo_reco.auth import mint
    from killrvideo_reco.settings import Settings

    settings = Settings()
    tokens = [f"Bearer {mint(settings, uuid.UUID(u), ['viewer'])}" for u in users]
    return asyncio.run(_http_cell(base_url, tokens, concurrency, max_requests, max_seconds,
                                  warmup_seconds, page_size, seed, path))


async def _http_cell(base_url, tokens, concurrency, max_requests, max_seconds,
                     warmup_seconds, page_size, seed, path) -> CellResult:
    import httpx

    rng = random.Random(seed)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    params = {"pageSize": str(page_size)} if path == FEED_PATH else None
    items_seen = [0, 0]
    sources: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0) as client:
        async def call() -> int:
            response = await client.get(path, params=params,
                                        headers={"Authorization": rng.choice(tokens)})
            if response.status_code == 200 and path == FEED_PATH:
                body = response.json()
                items_seen[0] += len(body.get("items") or [])
                items_seen[1] += 1
                sources[body.get("source")] = sources.get(body.get("source"), 0) + 1
            return response.status_code

        warm = CellResult("warmup", concurrency)
        if warmup_seconds > 0:
            await _closed_loop(call, concurrency, 10**9, warmup_seconds, warm)
        items_seen[:] = [0, 0]
        sources.clear()
        result = CellResult("service", concurrency, warmup_requests=len(warm.latencies_ms),
                            pid=os.getpid())
        if warm.failures:
            result.errors.extend(f"warm-up: {e}" for e in warm.errors[:2])
        await _closed_loop(call, concurrency, max_requests, max_seconds, result)
    result.rows_per_answer = items_seen[0] / items_seen[1] if items_seen[1] else 0.0
    result.sources = dict(sources)
    return result


# ---------------------------------------------------------------- bare ANN (driver)

_bare: dict = {}


def _bare_session(keyspace: str):
    """One driver session per worker process, built like the service's (same profiles)."""
    if _bare.get("keyspace") != keyspace:
        from bench.seed import load_user_vectors
        from killrvideo_reco.settings import Settings
        from killrvideo_reco.store.connection import connect
        from killrvideo_reco.store.videos import VideoStore

        if "cluster" in _bare:
            _bare["cluster"].shutdown()
        settings = Settings(cassandra_keyspace=keyspace, embedding_provider="hashing")
        cluster, session = connect(settings)
        store = VideoStore(session, keyspace)
        vectors = [v for _, v in load_user_vectors(session, keyspace)]
        _bare.update(keyspace=keyspace, cluster=cluster, session=session, store=store,
                     vectors=vectors)
    return _bare


def ann_cell(keyspace: str, limit: int, concurrency: int, max_requests: int,
             max_seconds: float, warmup_seconds: float, seed: int = 2) -> CellResult:
    """The exact prepared statement VideoStore.nearest runs (store._ann), with the feed's
    page-1 LIMIT, executed through the same asyncio bridge (store.aio.execute); rows are
    materialised but not turned into Candidates."""
    state = _bare_session(keyspace)
    return asyncio.run(_ann_cell(state, limit, concurrency, max_requests, max_seconds,
                                 warmup_seconds, seed))


async def _ann_cell(state, limit, concurrency, max_requests, max_seconds, warmup_seconds,
                    seed) -> CellResult:
    from killrvideo_reco.store.aio import execute

    session, statement, vectors = state["session"], state["store"]._ann, state["vectors"]
    rng = random.Random(seed)
    rows_seen = [0, 0]

    async def call() -> int:
        query = rng.choice(vectors)
        rows = await execute(session, statement, (query, query, limit))
        rows_seen[0] += len(rows)
        rows_seen[1] += 1
        return 200

    warm = CellResult("warmup", concurrency)
    if warmup_seconds > 0:
        await _closed_loop(call, concurrency, 10**9, warmup_seconds, warm)
    rows_seen[:] = [0, 0]
    result = CellResult("bare", concurrency, warmup_requests=len(warm.latencies_ms),
                        pid=os.getpid())
    await _closed_loop(call, concurrency, max_requests, max_seconds, result)
    result.rows_per_answer = rows_seen[0] / rows_seen[1] if rows_seen[1] else 0.0
    return result


def close_bare() -> None:
    if "cluster" in _bare:
        _bare["cluster"].shutdown()
        _bare.clear()
