"""How late the event loop runs what is due. Every request's parsing, routing and answer
waits for the loop, and the service's own latency histogram starts only once the app sees
the request, so a saturated loop shows here first: a lag of tens of milliseconds means the
process's CPU (one core: the GIL), not Cassandra, is what requests queue for."""
from __future__ import annotations

import asyncio

from killrvideo_reco import metrics

INTERVAL_S = 0.25  # four samples a second: nothing next to a request's work


async def sample_loop_lag(interval_s: float = INTERVAL_S) -> None:
    """Observe, forever, how long after its due time a timer of `interval_s` runs."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + interval_s
        await asyncio.sleep(interval_s)
        metrics.EVENT_LOOP_LAG.observe(max(0.0, loop.time() - due))
