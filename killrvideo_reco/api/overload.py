"""Load shedding that sheds only past capacity.

How many requests are served at once is an adaptive limit (`AdaptiveLimit`: the gradient
algorithm of Netflix's concurrency-limits, as Envoy's adaptive concurrency filter uses it):
while service times stay near their long-run level the limit grows, and when they rise
(requests queue inside the process or in Cassandra) it shrinks, between
MIN_IN_FLIGHT_REQUESTS and MAX_IN_FLIGHT_REQUESTS. A request beyond the limit waits in a
FIFO queue if it is within two rounds of the limit, or if its expected wait (its place in
the queue times the measured time between completions while busy) is within QUEUE_WAIT_S;
otherwise, or past MAX_QUEUED_REQUESTS, it gets a 503 problem with Retry-After at once,
so an overloaded service answers quickly instead of letting every request slow down until
clients time out. A queued request still waiting at
REQUEST_DEADLINE_S gets the 503 then. Health checks and metrics are never queued: they
must answer precisely when the service is busy."""
from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Callable

from killrvideo_reco import metrics
from killrvideo_reco.api.problems import problem_json

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
RETRY_AFTER_S = 1
QUEUE_ROUNDS = 2  # queued requests per slot that always wait: a burst of 3x the limit


class AdaptiveLimit:
    """Gradient limit: limit' = limit * clamp(tolerance * long_rtt / short_rtt, 0.5, 1)
    + sqrt(limit), smoothed. short_rtt follows the last few service times, long_rtt the
    last few hundred; a rising short_rtt is queueing, and the limit backs off."""

    def __init__(self, initial: int, minimum: int, maximum: int, tolerance: float = 1.5,
                 smoothing: float = 0.2, long_window: int = 600, short_window: int = 10):
        self.minimum, self.maximum = minimum, max(minimum, maximum)
        self.value = float(min(max(initial, self.minimum), self.maximum))
        self.tolerance, self.smoothing = tolerance, smoothing
        self._long_alpha, self._short_alpha = 1.0 / long_window, 1.0 / short_window
        self.long_rtt: float | None = None
        self.short_rtt: float | None = None

    @property
    def limit(self) -> int:
        return int(self.value)

    def observe(self, rtt_s: float, in_flight: int) -> None:
        """One completed request's service time, with how many were in flight."""
        if rtt_s <= 0 or not math.isfinite(rtt_s):
            return
        if self.long_rtt is None or self.short_rtt is None:
            self.long_rtt = self.short_rtt = rtt_s
            return
        self.short_rtt += self._short_alpha * (rtt_s - self.short_rtt)
        self.long_rtt += self._long_alpha * (rtt_s - self.long_rtt)
        if self.long_rtt > 2 * self.short_rtt:  # load fell: let the baseline follow quickly
            self.long_rtt *= 0.95
        if in_flight < self.value / 2:  # not using the limit: no evidence to grow it
            return
        gradient = max(0.5, min(1.0, self.tolerance * self.long_rtt / self.short_rtt))
        target = self.value * gradient + math.sqrt(self.value)
        self.value = (1 - self.smoothing) * self.value + self.smoothing * target
        self.value = min(max(self.value, self.minimum), self.maximum)


class Gate:
    """A counting gate with a bounded FIFO of waiters, its limit adaptive. A leaving request
    hands its slot straight to the oldest waiter, so a newcomer never overtakes the queue."""

    def __init__(self, limit: AdaptiveLimit, queue_limit: int,
                 clock: Callable[[], float] = time.monotonic):
        self.limiter, self.queue_limit, self.clock = limit, queue_limit, clock
        self.active = 0
        # The queue drains one request per `mean_interval_s`: the EWMA of the time between
        # completions while busy (measured throughput, whatever holds requests up).
        self.mean_interval_s = 0.0
        self._mark: float | None = None  # the last completion, or when a busy spell began
        self._waiters: collections.deque[asyncio.Future] = collections.deque()

    @property
    def limit(self) -> int:
        return self.limiter.limit

    @property
    def queued(self) -> int:
        return len(self._waiters)

    def expected_wait_s(self, position: int) -> float:
        """How long the request at `position` (0 = next) can expect to wait."""
        return (position + 1) * self.mean_interval_s

    async def enter(self, wait_budget_s: float, deadline_s: float) -> str | None:
        """None when a slot is taken; otherwise why not ('queue_full' or 'queue_timeout')."""
        if self.active < self.limit and not self._waiters:
            if self.active == 0:
                self._mark = self.clock()
            self.active += 1
            return None
        position = len(self._waiters)
        # Two rounds behind the slots always wait (about two service times); beyond them, a
        # request waits only if it can expect a slot within the budget.
        if position >= self.queue_limit or (
                position >= QUEUE_ROUNDS * self.limit
                and self.expected_wait_s(position) > wait_budget_s):
            return "queue_full"
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), deadline_s)
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

    def served(self, service_s: float) -> None:
        """A request finished after `service_s` in its slot: feed the estimates."""
        now = self.clock()
        if self._mark is not None:
            interval = now - self._mark
            self.mean_interval_s += (interval - self.mean_interval_s) * (
                0.1 if self.mean_interval_s else 1.0)
        self._mark = now
        self.limiter.observe(service_s, self.active)

    def leave(self) -> None:
        self.active -= 1
        if self.active == 0 and not self._waiters:
            self._mark = None  # idle time is no measure of how fast the queue drains
        # The oldest waiters take the free slots, as many as the (adaptive) limit allows.
        while self._waiters and self.active < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self.active += 1


class ConcurrencyLimit:
    """ASGI middleware around the app (inside RequestContext, so a rejection still has a
    request id, an access line and a request metric)."""

    def __init__(self, app, limit: AdaptiveLimit, max_queued: int, queue_wait_s: float,
                 deadline_s: float):
        self.app = app
        self.gate = Gate(limit, max_queued)
        self.queue_wait_s, self.deadline_s = queue_wait_s, deadline_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        refused = await self.gate.enter(self.queue_wait_s, self.deadline_s)
        if refused:
            metrics.OVERLOAD_REJECTIONS.labels(refused).inc()
            await _overloaded(scope, receive, send)
            return
        metrics.HTTP_IN_FLIGHT.inc()
        started = time.monotonic()
        try:
            await self.app(scope, receive, send)
        finally:
            metrics.HTTP_IN_FLIGHT.dec()
            self.gate.served(time.monotonic() - started)
            metrics.CONCURRENCY_LIMIT.set(self.gate.limit)
            self.gate.leave()


async def _overloaded(scope, receive, send) -> None:
    response = problem_json(503, "Service Unavailable",
                            "The service is at capacity; retry after the Retry-After delay.",
                            scope["path"], {"Retry-After": str(RETRY_AFTER_S)})
    await response(scope, receive, send)
