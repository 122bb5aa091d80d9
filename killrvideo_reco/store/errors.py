"""The one list of driver errors that mean "Cassandra is busy or away", not "bad request".

Batch jobs retry them; the API answers 503 with Retry-After. Nothing outside store/
names driver exception classes."""
from __future__ import annotations

import asyncio

from cassandra import OperationTimedOut, ReadTimeout, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionBusy

# Safe to retry: the request may or may not have been applied, and every write we
# issue is idempotent or conditional.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationTimedOut, ReadTimeout, WriteTimeout, Unavailable, NoHostAvailable, ConnectionBusy)

# What the API maps to 503: the transient errors plus timeouts of our own deadlines.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = TRANSIENT_ERRORS + (
    asyncio.TimeoutError, TimeoutError, ConnectionError)
