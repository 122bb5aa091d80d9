"""Bulk writes for batch jobs: one prepared statement, many value tuples, a bounded
number in flight, timed-out rows re-sent."""
from __future__ import annotations

import time
from collections.abc import Sequence

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args

from killrvideo_reco import metrics
from killrvideo_reco.store.errors import TRANSIENT_ERRORS

CONCURRENCY = 16  # the vector index rejects writes under many concurrent writers


def execute_many(session: Session, statement, values: Sequence[tuple], on_done=None,
                 attempts: int = 5) -> None:
    """Execute one statement for many value tuples, a few in flight; re-send timeouts."""
    for start in range(0, len(values), 5000):
        todo = list(values[start:start + 5000])
        for attempt in range(attempts):
            results = execute_concurrent_with_args(session, statement, todo,
                                                   concurrency=CONCURRENCY,
                                                   raise_on_first_error=False)
            failed = [(row, r) for row, (ok, r) in zip(todo, results) if not ok]
            for _, error in failed:
                metrics.CASSANDRA_ERRORS.labels(type(error).__name__).inc()
            if not failed:
                break
            if attempt == attempts - 1 or not isinstance(failed[0][1], TRANSIENT_ERRORS):
                raise failed[0][1]
            time.sleep(0.5 * 2 ** attempt)
            todo = [row for row, _ in failed]
        if on_done:
            on_done(min(5000, len(values) - start))
