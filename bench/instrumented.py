"""Bench-only app factory: the real app, with wall-clock timers around the feed's stages
and an optional cProfile of the event-loop thread. Used only for the profile phase;
the latency table is measured on killrvideo_reco.api.app:create_app itself.

    uvicorn bench.instrumented:create_app --factory

Extra routes: GET /bench/stages (returns and resets the stage timings), GET /bench/threads,
POST /bench/profile/start, POST /bench/profile/stop?path=FILE (writes pstats).
Nothing here changes what the service computes: the wrappers call the originals.
BENCH_FAST_VECTORS=1 additionally swaps the driver's vector codec for a numpy one (a
what-if measurement for docs/benchmarks.md, not a change to the service).
"""
from __future__ import annotations

import contextvars
import cProfile
import functools
import os
import threading
import time
from collections import defaultdict

from fastapi import FastAPI

_request: contextvars.ContextVar[dict | None] = contextvars.ContextVar("bench_stage", default=None)
_totals: dict[str, list[float]] = defaultdict(list)   # stage -> per-request ms
_counts: dict[str, list[int]] = defaultdict(list)     # stage -> per-request calls
_profiler: dict[str, cProfile.Profile] = {}


def _add(stage: str, ms: float) -> None:
    current = _request.get()
    if current is not None:
        entry = current.setdefault(stage, [0.0, 0])
        entry[0] += ms
        entry[1] += 1


def _timed_async(stage: str, fn):
    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            _add(stage, (time.perf_counter() - start) * 1000.0)
    return wrapper


def _timed_sync(stage: str, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _add(stage, (time.perf_counter() - start) * 1000.0)
    return wrapper


def _install_timers() -> None:
    from killrvideo_reco import auth
    from killrvideo_reco import bootstrap as wiring
    from killrvideo_reco.api import schemas
    from killrvideo_reco.service import feed as feed_module
    from killrvideo_reco.service.feed import FeedService
    from killrvideo_reco.store import viewers as viewers_module

    class TimedFeedService(FeedService):
        def __init__(self, videos, viewers, settings, behaviour=None, runs=None,
                     *args, **kwargs):
            super().__init__(videos, viewers, settings, behaviour, runs, *args, **kwargs)
            self._catalogue_model.get = _timed_async("profile: catalogue model (cached)",
                                                     self._catalogue_model.get)
            if getattr(videos, "_bench_timed", False):
                return  # the experiments' variant feeds share the stores: wrapped once
            videos._bench_timed = True
            if behaviour is not None:
                behaviour.nearest = _timed_async("ann: behaviour.nearest (both spaces)",
                                                 behaviour.nearest)
                # Reads the popular pool once per period, and the ranking features of
                # neighbour-list candidates that the feature cache lacks on every request.
                behaviour.popular_pool = _timed_async(
                    "features: behaviour.popular_pool (pool, list candidates)",
                    behaviour.popular_pool)
            # Instance-level wrappers: the stores are the service's own objects.
            videos.nearest = _timed_async("ann: videos.nearest (neighbour lists computed)",
                                          videos.nearest)
            viewers.profile = _timed_async("profile: viewers.profile", viewers.profile)
            viewers.seen_among = _timed_async("seen: viewers.seen_among", viewers.seen_among)

        async def for_you(self, user_id, page, page_size):
            start = time.perf_counter()
            try:
                return await super().for_you(user_id, page, page_size)
            finally:
                _add("feed.for_you total", (time.perf_counter() - start) * 1000.0)

    wiring.FeedService = TimedFeedService
    feed_module.based_on_for_items = _timed_sync("explain: based_on_for_items (numpy)",
                                                 feed_module.based_on_for_items)
    viewers_module.decode_references = _timed_sync("profile: decode_references",
                                                   viewers_module.decode_references)
    auth.TokenVerifier.__call__ = _timed_sync(
        "auth: JWT verify (a kept token skips it)", auth.TokenVerifier.__call__)
    schemas.FeedPageOut.of = classmethod(_timed_sync(
        "api: FeedPageOut.of (pydantic build)", schemas.FeedPageOut.of.__func__))


class _RequestTimer:
    """Pure ASGI middleware: time from the app getting the request to the last body byte
    handed to the server (routing, DI, auth, feed, serialisation; not HTTP parsing)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].endswith("/foryou"):
            return await self.app(scope, receive, send)
        stages: dict = {}
        token = _request.set(stages)
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            stages["app: whole request in ASGI app"] = [(time.perf_counter() - start) * 1000.0, 1]
            _request.reset(token)
            for stage, (ms, calls) in stages.items():
                _totals[stage].append(ms)
                _counts[stage].append(calls)


def _install_numpy_vector_codec() -> None:
    """BENCH_FAST_VECTORS=1: the numpy vector codec. It now ships in the store layer
    (installed by every Cluster), so this what-if measures the same code as the app."""
    from killrvideo_reco.store.vector_codec import install_numpy_vector_codec

    install_numpy_vector_codec()


def create_app() -> FastAPI:
    from killrvideo_reco.api import app as app_module

    if os.environ.get("BENCH_FAST_VECTORS") == "1":
        _install_numpy_vector_codec()
    _install_timers()
    app = app_module.create_app()

    @app.get("/bench/stages", include_in_schema=False)
    async def stages() -> dict:
        out = {stage: {"ms": list(values), "calls": list(_counts[stage])}
               for stage, values in _totals.items()}
        _totals.clear()
        _counts.clear()
        return out

    @app.get("/bench/threads", include_in_schema=False)
    async def threads() -> list[dict]:
        return [{"name": t.name, "native_id": t.native_id} for t in threading.enumerate()]

    @app.post("/bench/profile/start", include_in_schema=False)
    async def profile_start() -> dict:
        # CPU time of the event-loop thread, not wall time: on a shared machine, time
        # spent descheduled would otherwise be charged to whatever function was running.
        profiler = cProfile.Profile(time.thread_time)
        _profiler["current"] = profiler
        profiler.enable()
        return {"profiling": True}

    @app.post("/bench/profile/stop", include_in_schema=False)
    async def profile_stop(path: str) -> dict:
        profiler = _profiler.pop("current", None)
        if profiler is None:
            return {"profiling": False}
        profiler.disable()
        profiler.dump_stats(path)
        return {"written": path}

    app.add_middleware(_RequestTimer)
    return app
