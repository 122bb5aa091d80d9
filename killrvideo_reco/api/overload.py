"""Load shedding: at most MAX_IN_FLIGHT_REQUESTS are served at once and at most
MAX_QUEUED_REQUESTS wait, each for at most QUEUE_WAIT_S. Everything beyond gets a 503
problem with Retry-After at once, so an overloaded service answers quickly instead of
letting every request slow down until clients time out. Health checks and metrics are
never queued: they must answer precisely when the service is busy."""
from __future__ import annotations

import asyncio
import collections

from killrvideo_reco import metrics
from killrvideo_reco.api.problems import problem_json

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
RETRY_AFTER_S = 1


class Gate:
    """A counting gate with a bounded FIFO of waiters. A leaving request hands its slot
    straight to the oldest waiter, so a newcomer never overtakes the queue."""

    def __init__(self, limit: int, queue_limit: int):
        self.limit, self.queue_limit = limit, queue_limit
        self.active = 0
        self._waiters: collections.deque[asyncio.Future] = collections.deque()

    @property
    def queued(self) -> int:
        return len(self._waiters)

    async def enter(self, wait_s: float) -> str | None:
        """None when a slot is taken; otherwise why not ('queue_full' or 'queue_timeout')."""
        if self.active < self.limit and not self._waiters:
            self.active += 1
            return None
        if len(self._waiters) >= self.queue_limit or wait_s <= 0:
            return "queue_full"
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), wait_s)
            return None  # the slot was handed over
        except asyncio.TimeoutError:
            if waiter.done():  # handed over as the wait ran out: keep it
                return None
            self._waiters.remove(waiter)
            waiter.cancel()
            return "queue_timeout"
        except asyncio.CancelledError:  # the client went away while queued
            if waiter.done():
                self.leave()
            else:
                self._waiters.remove(waiter)
                waiter.cancel()
            raise

    def leave(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes on; `active` is unchanged
                return
        self.active -= 1


class ConcurrencyLimit:
    """ASGI middleware around the app (inside RequestContext, so a rejection still has a
    request id, an access line and a request metric)."""

    def __init__(self, app, max_in_flight: int, max_queued: int, queue_wait_s: float):
        self.app = app
        self.gate = Gate(max_in_flight, max_queued)
        self.queue_wait_s = queue_wait_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        refused = await self.gate.enter(self.queue_wait_s)
        if refused:
            metrics.OVERLOAD_REJECTIONS.labels(refused).inc()
            await _overloaded(scope, receive, send)
            return
        metrics.HTTP_IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            metrics.HTTP_IN_FLIGHT.dec()
            self.gate.leave()


async def _overloaded(scope, receive, send) -> None:
    response = problem_json(503, "Service Unavailable",
                            "The service is at capacity; retry after the Retry-After delay.",
                            scope["path"], {"Retry-After": str(RETRY_AFTER_S)})
    await response(scope, receive, send)
