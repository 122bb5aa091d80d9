"""The FastAPI application: routers, problem handlers, and the lifespan that owns resources."""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from killrvideo_reco.api import collector
from killrvideo_reco.api.loop_lag import sample_loop_lag
from killrvideo_reco.api.middleware import RequestContext
from killrvideo_reco.api.openapi import install_openapi
from killrvideo_reco.api.overload import AdaptiveLimit, ConcurrencyLimit
from killrvideo_reco.api.problems import install_problem_handlers
from killrvideo_reco.api.resources import ResourceHolder
from killrvideo_reco.api.routes import (
    admin,
    experiments,
    health,
    me,
    online,
    operators,
    recommendations,
    videos,
)
from killrvideo_reco.console.router import mount_console
from killrvideo_reco.logs import configure_logging
from killrvideo_reco.settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.check_safe_to_serve()  # raises UnsafeSettings: refuse to start, say why
    if not logging.getLogger().handlers:  # a bare `uvicorn --factory`, not `cli serve`
        configure_logging(settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        holder = ResourceHolder(settings)
        app.state.holder = holder
        await holder.start()
        collector.tune(settings.python_gc_threshold)
        lag = asyncio.create_task(sample_loop_lag())
        try:
            yield
        finally:
            lag.cancel()
            await holder.close()

    app = FastAPI(title="KillrVideo Reco", version="0.1.0", lifespan=lifespan,
                  description="Personalised 'For You' recommendations on Cassandra 5 vector search.")
    install_problem_handlers(app)
    # The last added is the outermost: RequestContext wraps the limit, so a shed request
    # still gets its request id, access line and request metric.
    app.add_middleware(ConcurrencyLimit, limit=AdaptiveLimit(
                           settings.initial_in_flight_requests, settings.min_in_flight_requests,
                           settings.max_in_flight_requests),
                       max_queued=settings.max_queued_requests,
                       queue_wait_s=settings.queue_wait_s,
                       deadline_s=settings.request_deadline_s)
    app.add_middleware(RequestContext)
    for module in (health, recommendations, videos, me, admin, operators, online, experiments):
        app.include_router(module.router)
    mount_console(app)
    install_openapi(app, settings)
    return app
