"""Daily counters are summed in process and written once per interval, per key."""
from __future__ import annotations

import asyncio
from datetime import date, timedelta

from killrvideo_reco.service.daily_counters import DailyCounterBuffer
from killrvideo_reco.service.impressions import ImpressionLog, ImpressionParams

DAY = date(2026, 12, 4)


class Recorder:
    def __init__(self):
        self.writes: list[tuple] = []
        self.queued: list = []

    async def write(self, day, source, variant, increments):
        self.writes.append((day, source, variant, dict(increments)))

    def submit(self, kind, write):
        assert kind == "counter"
        self.queued.append(write)

    async def run_queued(self):
        while self.queued:
            await self.queued.pop(0)()


def test_adds_within_an_interval_become_one_write_per_key():
    async def scenario():
        out = Recorder()
        buffer = DailyCounterBuffer(out.write, out.submit, flush_s=0.05)
        for _ in range(30):
            buffer.add(DAY, "personalized", "default", {"pages": 1, "impressions": 10,
                                                         "impressions_p1": 1, "clicks": 0})
        buffer.add(DAY, "trending", "default", {"pages": 1})
        assert out.queued == [] and buffer.pending() == 2, "nothing written yet"
        await asyncio.sleep(0.2)
        await out.run_queued()
        return out.writes, buffer.pending()

    writes, pending = asyncio.run(scenario())
    assert pending == 0
    assert sorted(writes, key=lambda w: w[1]) == [
        (DAY, "personalized", "default", {"pages": 30, "impressions": 300, "impressions_p1": 30}),
        (DAY, "trending", "default", {"pages": 1})]


def test_zero_interval_writes_each_add_and_flush_writes_what_is_pending():
    async def scenario():
        at_once, later = Recorder(), Recorder()
        DailyCounterBuffer(at_once.write, at_once.submit, 0).add(DAY, "s", "v", {"pages": 1})
        buffer = DailyCounterBuffer(later.write, later.submit, flush_s=60)
        buffer.add(DAY, "s", "v", {"pages": 2})
        buffer.flush()  # what drain and shutdown do
        await at_once.run_queued()
        await later.run_queued()
        return at_once.writes, later.writes

    at_once, later = asyncio.run(scenario())
    assert at_once == [(DAY, "s", "v", {"pages": 1})]
    assert later == [(DAY, "s", "v", {"pages": 2})]


def test_counts_left_by_an_ended_loop_are_written_by_the_next():
    out = Recorder()
    buffer = DailyCounterBuffer(out.write, out.submit, flush_s=0.05)

    async def add():
        buffer.add(DAY, "s", "v", {"pages": 1})

    asyncio.run(add())  # this loop ends before its timer fires

    async def next_loop():
        await add()
        await asyncio.sleep(0.2)
        await out.run_queued()

    asyncio.run(next_loop())
    assert out.writes == [(DAY, "s", "v", {"pages": 2})]


class CounterStore:
    """The impression store's counter side; its impression writes wait for `release`."""
    def __init__(self):
        self.added: list = []
        self.release = asyncio.Event()
        self.impressions = 0

    async def slow_impression(self):
        await self.release.wait()
        self.impressions += 1

    async def add_daily(self, day, source, variant, increments):
        self.added.append((day, source, variant, dict(increments)))

    async def daily(self, days):
        return []


def counting_log(store: CounterStore) -> ImpressionLog:
    return ImpressionLog(store, ImpressionParams(3600, timedelta(hours=1), 100,  # type: ignore[arg-type]
                                                 counter_flush_s=60))


def test_reading_the_daily_metrics_writes_this_replicas_pending_counters_first():
    store = CounterStore()
    log = counting_log(store)

    async def scenario():
        log.counters.add(DAY, "personalized", "default", {"pages": 1})
        assert store.added == []
        await log.daily_metrics([DAY])
        return store.added

    assert asyncio.run(scenario()) == [(DAY, "personalized", "default", {"pages": 1})]


def test_a_metrics_read_does_not_wait_behind_other_queued_writes():
    """The counters a read needs are written directly: impression writes stuck ahead
    of them in the queue (a slow node) do not hold the read back."""
    store = CounterStore()
    log = counting_log(store)

    async def scenario():
        for _ in range(50):  # more than the workers: the queue stays full of them
            log.submit("impression", store.slow_impression)
        log.counters.add(DAY, "personalized", "default", {"pages": 1})
        await asyncio.sleep(0)
        complete = await log.counters.written(30.0)
        written_before = store.impressions
        store.release.set()
        await log.close(5.0)
        return complete, written_before, store.impressions, store.added

    complete, before, after, added = asyncio.run(scenario())
    assert complete and before == 0 and after == 50
    assert added == [(DAY, "personalized", "default", {"pages": 1})]
