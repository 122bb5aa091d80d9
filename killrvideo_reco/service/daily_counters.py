"""The online metrics' daily counters, summed in process and written once per interval.

A feed page adds about a dozen counters (impressions, pages, one per top position) and an
attributed view half a dozen. A counter update is one of Cassandra's dearest writes (it
reads before it writes, on each replica), and it dominated the cost of a page served
from the ranked-list cache. Summed here for IMPRESSION_COUNTER_FLUSH_S, a replica writes
one counter batch per (day, source, variant) and interval, whatever its traffic. A
process that dies loses at most one interval's counts (counters are never re-sent after
a failure anyway); drain and shutdown write what is pending at once, and `written` lets a
reader of the counters wait for this replica's (not for the other queued writes).
"""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from functools import partial

CounterWrite = Callable[[date, str, str, Mapping[str, int]], Awaitable[None]]
Submit = Callable[[str, Callable[[], Awaitable[None]]], None]
Run = Callable[[str, Callable[[], Awaitable[None]]], Awaitable[None]]


async def _run_raising(kind: str, write: Callable[[], Awaitable[None]]) -> None:
    await write()


class DailyCounterBuffer:
    def __init__(self, write: CounterWrite, submit: Submit, flush_s: float,
                 run: Run = _run_raising):
        """`write` stores one key's increments; `submit` queues a write off the request
        path; `run` runs one at once, as the queue's workers do; `flush_s` 0 writes every
        add at once."""
        self.write, self.submit, self.run, self.flush_s = write, submit, run, flush_s
        self._pending: dict[tuple[date, str, str], Counter[str]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._queued = self._finished = 0  # counter writes handed to `submit`, and done
        self._direct: set[asyncio.Task] = set()  # `written`'s own, referenced until done

    def add(self, day: date, source: str, variant: str, increments: Mapping[str, int]) -> None:
        counts = {k: v for k, v in increments.items() if v}
        if not counts:
            return
        if self.flush_s <= 0:
            self._queue(day, source, variant, counts)
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
        for (day, source, variant), counts in self._take().items():
            self._queue(day, source, variant, dict(counts))

    async def written(self, timeout_s: float) -> bool:
        """Write what is summed now, directly rather than behind the queue's other writes,
        and wait (at most timeout_s) until the counter writes queued before have run too;
        False if some had not (a full queue drops writes: they never run). Writes still
        running at the timeout go on in the background, never cancelled half-way."""
        for (day, source, variant), counts in self._take().items():
            self._queued += 1
            task = asyncio.ensure_future(self.run("counter", partial(
                self._write_counted, day, source, variant, dict(counts))))
            self._direct.add(task)
            task.add_done_callback(self._direct.discard)
        target, deadline = self._queued, time.monotonic() + timeout_s
        while self._finished < target:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    def _take(self) -> dict[tuple[date, str, str], Counter[str]]:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._timer_loop = None
        pending, self._pending = self._pending, {}
        return pending

    def _queue(self, day: date, source: str, variant: str, counts: Mapping[str, int]) -> None:
        self._queued += 1
        self.submit("counter", partial(self._write_counted, day, source, variant, counts))

    async def _write_counted(self, day: date, source: str, variant: str,
                             counts: Mapping[str, int]) -> None:
        try:
            await self.write(day, source, variant, counts)
        finally:
            self._finished += 1
