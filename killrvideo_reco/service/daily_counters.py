"""The online metrics' daily counters, summed in process and written once per interval.

A feed page adds about a dozen counters (impressions, pages, one per top position) and an
attributed view half a dozen. A counter update is one of Cassandra's dearest writes (it
reads before it writes, on each replica), and it dominated the cost of a page served
from the ranked-list cache. Summed here for IMPRESSION_COUNTER_FLUSH_S, a replica writes
one counter batch per (day, source, variant) and interval, whatever its traffic. A
process that dies loses at most one interval's counts (counters are never re-sent after
a failure anyway); drain and shutdown write what is pending at once.
"""
from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from functools import partial

CounterWrite = Callable[[date, str, str, Mapping[str, int]], Awaitable[None]]
Submit = Callable[[str, Callable[[], Awaitable[None]]], None]


class DailyCounterBuffer:
    def __init__(self, write: CounterWrite, submit: Submit, flush_s: float):
        """`write` stores one key's increments; `submit` queues a write off the request
        path; `flush_s` 0 writes every add at once."""
        self.write, self.submit, self.flush_s = write, submit, flush_s
        self._pending: dict[tuple[date, str, str], Counter[str]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    def add(self, day: date, source: str, variant: str, increments: Mapping[str, int]) -> None:
        counts = {k: v for k, v in increments.items() if v}
        if not counts:
            return
        if self.flush_s <= 0:
            self.submit("counter", partial(self.write, day, source, variant, counts))
            return
        self._pending.setdefault((day, source, variant), Counter()).update(counts)
        loop = asyncio.get_running_loop()
        # A timer of a loop that has ended never fires: jobs and tests run several loops.
        if self._timer is None or self._timer_loop is not loop:
            self._timer, self._timer_loop = loop.call_later(self.flush_s, self.flush), loop

    def pending(self) -> int:
        """Keys summed but not yet queued."""
        return len(self._pending)

    def flush(self) -> None:
        """Queue one write per key of everything summed so far."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._timer_loop = None
        pending, self._pending = self._pending, {}
        for (day, source, variant), counts in pending.items():
            self.submit("counter", partial(self.write, day, source, variant, dict(counts)))
