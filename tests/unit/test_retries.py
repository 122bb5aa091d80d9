"""The retry policies (killrvideo_reco/retries.py): what each retries, how often, and that
a lambda returning an awaitable is really awaited (tenacity awaits only coroutine
functions by itself)."""
from __future__ import annotations

import asyncio

import pytest
from tenacity import wait_none

from killrvideo_reco import retries
from killrvideo_reco.domain.errors import StoreUnavailable


def no_wait(policy):
    return policy.copy(wait=wait_none())


def test_transient_errors_are_retried_then_the_result_returned():
    calls = []

    async def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise StoreUnavailable("ReadTimeout")
        return "rows"

    result = asyncio.run(retries.call(no_wait(retries.transient()), lambda: flaky()))
    assert result == "rows" and len(calls) == 3


def test_retry_transient_waits_as_the_policy_does_and_makes_the_same_attempts(monkeypatch):
    waits, calls = [], []
    real_sleep = asyncio.sleep

    async def recorded(seconds, *args):
        waits.append(seconds)
        await real_sleep(0)
    monkeypatch.setattr(asyncio, "sleep", recorded)

    async def down():
        calls.append(1)
        raise StoreUnavailable("Unavailable")
    with pytest.raises(StoreUnavailable):
        asyncio.run(retries.retry_transient(down, attempts=5))
    assert len(calls) == 5 and waits == [0.5, 1.0, 2.0, 4.0]

    calls.clear()

    async def fine():
        calls.append(1)
        return "rows"
    assert asyncio.run(retries.retry_transient(fine)) == "rows" and len(calls) == 1
    with pytest.raises(StoreUnavailable):
        asyncio.run(retries.retry_transient(down, attempts=1))


def test_transient_policy_gives_up_with_the_store_error_and_ignores_other_errors():
    calls = []

    async def down():
        calls.append(1)
        raise StoreUnavailable("NoHostAvailable")

    with pytest.raises(StoreUnavailable):
        asyncio.run(retries.call(no_wait(retries.transient(4)), down))
    assert len(calls) == 4

    async def bug():
        calls.append(1)
        raise KeyError("not transient")

    with pytest.raises(KeyError):
        asyncio.run(retries.call(no_wait(retries.transient(4)), bug))
    assert len(calls) == 5, "a non-transient error is raised at once"


def test_conditional_write_retries_until_applied_and_reports_none_after_the_last():
    outcomes = iter([None, None, "applied"])
    result = asyncio.run(retries.call(no_wait(retries.conditional_write()),
                                      lambda: asyncio.sleep(0, next(outcomes))))
    assert result == "applied"

    attempts = []

    async def always_lost():
        attempts.append(1)
        return None

    assert asyncio.run(retries.call(no_wait(retries.conditional_write(7)), always_lost)) is None
    assert len(attempts) == 7


def test_bulk_write_retries_only_what_the_predicate_calls_transient():
    calls = []

    def send():
        calls.append(1)
        if len(calls) < 2:
            raise TimeoutError("timed out")
        return "sent"

    policy = retries.bulk_write(lambda e: isinstance(e, TimeoutError)).copy(wait=wait_none())
    assert policy(send) == "sent" and len(calls) == 2
    with pytest.raises(ValueError):
        policy(lambda: (_ for _ in ()).throw(ValueError("bad row")))


def test_job_bookkeeping_retries_any_error_then_reraises():
    calls = []

    async def failing():
        calls.append(1)
        raise ConnectionError("away")

    with pytest.raises(ConnectionError):
        asyncio.run(retries.call(no_wait(retries.job_bookkeeping()), failing))
    assert len(calls) == retries.JOB_BOOKKEEPING_ATTEMPTS


def test_until_applied_needs_no_policy_when_the_first_commit_applies(monkeypatch):
    built = []
    monkeypatch.setattr(retries, "conditional_write",
                        lambda attempts: built.append(attempts) or no_wait(
                            retries.AsyncRetrying(retry=retries.retry_if_result(
                                lambda applied: applied is None),
                                stop=retries.stop_after_attempt(attempts),
                                retry_error_callback=lambda state: None)))

    assert asyncio.run(retries.until_applied(lambda: asyncio.sleep(0, "applied"))) == "applied"
    assert built == []
    outcomes = iter([None, None, "applied"])
    assert asyncio.run(retries.until_applied(
        lambda: asyncio.sleep(0, next(outcomes)), attempts=5)) == "applied"
    assert built == [4]  # the policy took over for the attempts left

    attempts = []

    async def always_lost():
        attempts.append(1)
        return None

    assert asyncio.run(retries.until_applied(always_lost, attempts=7)) is None
    assert len(attempts) == 7
