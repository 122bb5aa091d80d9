"""Bulk writes for batch jobs: one prepared statement, many value tuples, a bounded
number in flight, timed-out rows re-sent (the bulk-write policy of retries.py)."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args

from killrvideo_reco import metrics
from killrvideo_reco.retries import BULK_WRITE_ATTEMPTS, bulk_write
from killrvideo_reco.store.errors import is_transient, unavailable

CONCURRENCY = 16  # the vector index rejects writes under many concurrent writers
CHUNK = 5000


def execute_many(session: Session, statement, values: Sequence[tuple],
                 on_done: Callable[[int], None] | None = None,
                 attempts: int = BULK_WRITE_ATTEMPTS) -> None:
    """Execute one statement for many value tuples, a few in flight; re-send timeouts."""
    for start in range(0, len(values), CHUNK):
        todo = list(values[start:start + CHUNK])

        def send() -> None:
            nonlocal todo
            results = execute_concurrent_with_args(session, statement, todo,
                                                   concurrency=CONCURRENCY,
                                                   raise_on_first_error=False)
            failed = [(row, r) for row, (ok, r) in zip(todo, results) if not ok]
            for _, error in failed:
                metrics.CASSANDRA_ERRORS.labels(type(error).__name__).inc()
            if failed:
                todo = [row for row, _ in failed]  # only these are sent again
                raise unavailable(failed[0][1])

        bulk_write(is_transient, attempts)(send)
        if on_done:
            on_done(min(CHUNK, len(values) - start))
