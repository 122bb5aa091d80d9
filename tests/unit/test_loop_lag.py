"""The event-loop lag histogram: a loop held up by synchronous work shows it."""
from __future__ import annotations

import asyncio
import time

from killrvideo_reco import metrics
from killrvideo_reco.api.loop_lag import sample_loop_lag


def _observed() -> tuple[float, float]:
    """(samples, seconds) of the histogram so far."""
    values = {s.name: s.value for m in metrics.EVENT_LOOP_LAG.collect() for s in m.samples}
    return (values["killrvideo_event_loop_lag_seconds_count"],
            values["killrvideo_event_loop_lag_seconds_sum"])


async def _run(block_s: float) -> tuple[float, float]:
    before = _observed()
    sampler = asyncio.create_task(sample_loop_lag(0.01))
    await asyncio.sleep(0.05)  # a few samples of an idle loop
    time.sleep(block_s)  # synchronous work on the loop: every timer waits for it
    await asyncio.sleep(0.05)
    sampler.cancel()
    after = _observed()
    return after[0] - before[0], after[1] - before[1]


def test_a_blocked_loop_shows_as_lag_and_an_idle_one_does_not():
    samples, idle = asyncio.run(_run(0.0))
    assert samples >= 3
    samples, lagged = asyncio.run(_run(0.2))
    # The timer due during the block ran about 0.2 s late; the idle loop's were on time.
    assert samples >= 3 and lagged >= 0.18 and lagged >= idle + 0.15
