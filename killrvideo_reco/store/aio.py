"""Bridges the driver's ResponseFuture into asyncio, so no request blocks the loop.
Transient driver errors come out as StoreUnavailable (store/errors.py)."""
from __future__ import annotations

import asyncio
from typing import Any

from cassandra.cluster import EXEC_PROFILE_DEFAULT, ResponseFuture, Session

from killrvideo_reco import metrics
from killrvideo_reco.store.errors import translated, unavailable


async def execute(session: Session, statement: Any, parameters: Any = None,
                  profile: str | object = EXEC_PROFILE_DEFAULT) -> list:
    """Run one statement and return all its rows, following pages without blocking."""
    loop = asyncio.get_running_loop()
    result: asyncio.Future = loop.create_future()
    with translated():
        response: ResponseFuture = session.execute_async(
            statement, parameters, execution_profile=profile)
    collected: list = []

    def on_success(rows: Any) -> None:
        collected.extend(rows or ())
        if response.has_more_pages and not result.done():
            response.start_fetching_next_page()  # callbacks fire again for the next page
            return
        loop.call_soon_threadsafe(_settle, result, collected, None)
        # The callbacks and the future refer to each other: break the cycle now, so
        # memory is freed at once rather than at the next full garbage collection.
        response.clear_callbacks()

    def on_error(exc: BaseException) -> None:
        metrics.CASSANDRA_ERRORS.labels(type(exc).__name__).inc()
        loop.call_soon_threadsafe(_settle, result, None, unavailable(exc))
        response.clear_callbacks()

    response.add_callbacks(on_success, on_error)
    return await result


def _settle(future: asyncio.Future, value: Any, exc: BaseException | None) -> None:
    if future.done():  # cancelled by the caller's timeout
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(value)
