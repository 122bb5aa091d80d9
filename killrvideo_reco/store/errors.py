"""The one list of driver errors that mean "Cassandra is busy or away", not "bad request".

Batch jobs retry them; the API answers 503 with Retry-After. Nothing outside store/
names driver exception classes."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from cassandra import OperationTimedOut, ReadTimeout, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionBusy

log = logging.getLogger(__name__)

# Safe to retry: the request may or may not have been applied, and every write we
# issue is idempotent or conditional.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationTimedOut, ReadTimeout, WriteTimeout, Unavailable, NoHostAvailable, ConnectionBusy)

# What the API maps to 503: the transient errors plus timeouts of our own deadlines.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = TRANSIENT_ERRORS + (
    asyncio.TimeoutError, TimeoutError, ConnectionError)


async def retrying(make: Callable[[], Awaitable], attempts: int = 5):
    """Await make() again after a transient error, backing off 0.5 s, 1 s, 2 s, ...: a busy
    node times out now and then, and the callers' work (inserts, rebuilds, reads) is
    safe to repeat."""
    for attempt in range(attempts):
        try:
            return await make()
        except TRANSIENT_ERRORS as error:
            if attempt == attempts - 1:
                raise
            log.warning("retrying after %s", type(error).__name__)
            await asyncio.sleep(0.5 * 2 ** attempt)
