"""The one retry policy of each kind, built on tenacity. Every retry in the project uses
one of these, so a schedule is changed in one place:

* transient read: a read (or idempotent write) that met a busy or absent node; backs off
  0.5 s, 1 s, 2 s, 4 s for batch work, where waiting beats failing the job;
* conditional write: a taste commit that lost its `IF taste_version` race; retried at
  once with a little random jitter (0-2 ms, doubling to 128 ms), so racing writers
  spread out instead of colliding again;
* bulk write: the rows of a bulk write that timed out are sent again, 0.5 s, 1 s, ...;
* job bookkeeping: recording a job's end; a short linear wait, then the lease's TTL
  frees the kind anyway.
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    Retrying,
    before_sleep_log,
    retry_if_exception,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
    wait_incrementing,
    wait_random_exponential,
)

from killrvideo_reco.domain.errors import StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

TRANSIENT_READ_ATTEMPTS = 5
TRANSIENT_FIRST_WAIT_S = 0.5  # then doubling, at most 8 s
CONDITIONAL_WRITE_ATTEMPTS = 30
CONDITIONAL_FIRST_WAIT_S = 0.002  # the jitter's first bound (conditional_write's multiplier)
BULK_WRITE_ATTEMPTS = 5
JOB_BOOKKEEPING_ATTEMPTS = 3


def transient(attempts: int = TRANSIENT_READ_ATTEMPTS,
              first_wait_s: float = TRANSIENT_FIRST_WAIT_S) -> AsyncRetrying:
    """Retry StoreUnavailable with exponential backoff, then re-raise it."""
    return AsyncRetrying(retry=retry_if_exception_type(StoreUnavailable),
                         wait=wait_exponential(multiplier=first_wait_s, max=8),
                         stop=stop_after_attempt(attempts), reraise=True,
                         before_sleep=before_sleep_log(log, logging.WARNING))


async def call(policy: AsyncRetrying, make: Callable[[], Awaitable[T]]) -> T:
    """Await make() under `policy`. tenacity awaits only what a coroutine function
    returns, so a lambda or partial returning an awaitable is wrapped in one here."""
    async def attempt() -> T:
        return await make()
    return await policy(attempt)


async def retry_transient(make: Callable[[], Awaitable[T]],
                          attempts: int = TRANSIENT_READ_ATTEMPTS) -> T:
    """Await make() again after a transient store error (batch jobs, checks, the
    background impression writes). The first attempt runs without tenacity: nearly every
    call succeeds at once, and building a policy for each cost more than the write's own
    statement. After a failure the policy takes over where it stood: the same waits
    (0.5 s, then 1 s, 2 s, ...) and the same attempts in all."""
    try:
        return await make()
    except StoreUnavailable as error:
        if attempts <= 1:
            raise
        log.warning("Retrying in %.1f seconds after %s", TRANSIENT_FIRST_WAIT_S, error)
        await asyncio.sleep(TRANSIENT_FIRST_WAIT_S)
    return await call(transient(attempts - 1, 2 * TRANSIENT_FIRST_WAIT_S), make)


def conditional_write(attempts: int = CONDITIONAL_WRITE_ATTEMPTS) -> AsyncRetrying:
    """Retry while the attempt returns None (its conditional write did not apply); after
    the last attempt the result is None and the caller reports contention."""
    return AsyncRetrying(retry=retry_if_result(lambda applied: applied is None),
                         wait=wait_random_exponential(multiplier=CONDITIONAL_FIRST_WAIT_S,
                                                      max=0.128),
                         stop=stop_after_attempt(attempts),
                         retry_error_callback=lambda state: None)


async def until_applied(make: Callable[[], Awaitable[T | None]],
                        attempts: int = CONDITIONAL_WRITE_ATTEMPTS) -> T | None:
    """Await make() until it returns other than None (its conditional write applied), at
    most `attempts` times; None after the last. The first attempt runs without tenacity,
    as retry_transient's does: nearly every view's commit applies at once, and the policy
    cost about 2% of a view's app CPU. After a lost race the policy takes over with its
    own first jitter, so the schedule is the conditional write's."""
    outcome = await make()
    if outcome is not None or attempts <= 1:
        return outcome
    await asyncio.sleep(random.uniform(0.0, CONDITIONAL_FIRST_WAIT_S))
    return await call(conditional_write(attempts - 1), make)


def bulk_write(is_transient: Callable[[BaseException], bool],
               attempts: int = BULK_WRITE_ATTEMPTS) -> Retrying:
    """Synchronous (the bulk writer runs in a worker thread): re-send after a transient
    failure, backing off 0.5 s, 1 s, 2 s, ..."""
    return Retrying(retry=retry_if_exception(is_transient),
                    wait=wait_exponential(multiplier=0.5, max=8),
                    stop=stop_after_attempt(attempts), reraise=True,
                    before_sleep=before_sleep_log(log, logging.WARNING))


def job_bookkeeping(attempts: int = JOB_BOOKKEEPING_ATTEMPTS) -> AsyncRetrying:
    """Any error is retried (0.5 s, 1 s), then re-raised for the caller to log."""
    return AsyncRetrying(wait=wait_incrementing(start=0.5, increment=0.5),
                         stop=stop_after_attempt(attempts), reraise=True,
                         before_sleep=before_sleep_log(log, logging.WARNING))

