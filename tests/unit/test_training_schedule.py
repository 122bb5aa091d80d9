"""TRAIN_SCHEDULE: epoch-aligned slots, one run per slot across replicas (the lease picks
the replica), a failed run retried at the next slot, either engine alike."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from killrvideo_reco.domain.schedule import is_due, next_slot, parse_schedule, slot_start
from killrvideo_reco.jobs import scheduled_training
from killrvideo_reco.service.job_registry import JobPolicy, JobRegistry
from killrvideo_reco.settings import Settings
from tests.fakes import FakeJobStore

DAY = 86400.0
NOON = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)


def test_schedule_specs():
    assert parse_schedule("") is None and parse_schedule("  ") is None
    assert parse_schedule("every 24h") == DAY and parse_schedule("EVERY 7d") == 7 * DAY
    assert parse_schedule("every 30m") == 1800 and parse_schedule("every 1.5h") == 5400
    for bad in ("daily", "every 24", "every 10s", "24h"):
        with pytest.raises(ValueError):
            parse_schedule(bad)
    with pytest.raises(ValueError, match="TRAIN_SCHEDULE"):
        Settings(train_schedule="hourly")
    assert Settings().train_schedule == "", "off by default"


def test_slots_are_epoch_aligned_so_replicas_agree():
    assert slot_start(NOON, DAY) == datetime(2026, 12, 3, tzinfo=timezone.utc)
    assert next_slot(NOON, DAY) == datetime(2026, 12, 4, tzinfo=timezone.utc)
    assert slot_start(NOON, 3600) == NOON
    assert is_due(NOON, DAY, None)
    assert is_due(NOON, DAY, NOON - timedelta(days=1))
    assert not is_due(NOON, DAY, NOON - timedelta(hours=11))


def test_one_replica_trains_per_slot_and_a_failed_run_is_retried_next_slot(monkeypatch):
    store = FakeJobStore()
    policy = JobPolicy(lease_ttl_s=3, progress_interval_s=0.01, resume_max_age_s=60,
                       shutdown_wait_s=1)
    registries = [JobRegistry(store, policy, owner=f"replica:{n}") for n in range(2)]
    resources = SimpleNamespace(jobs=store)
    settings = Settings(train_schedule="every 24h")
    runs: list[str] = []
    outcome = {"fail": True}

    async def fake_training(resources, settings, **kwargs):
        runs.append(settings.train_engine)
        await asyncio.sleep(0.05)
        if outcome["fail"]:
            raise RuntimeError("Spark job failed")
        return {"runId": "r"}

    monkeypatch.setattr(scheduled_training, "run_training", fake_training)

    async def check_all(now):
        started = [await scheduled_training.start_if_due(resources, settings, r, DAY, now)
                   for r in registries]
        while any(job.status == "running" for job in store.jobs.values()):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the lease is released after the end is recorded
        return started

    async def scenario():
        slot_time = datetime.now(timezone.utc)
        first = await check_all(slot_time)
        assert sorted(first) == [False, True], "exactly one replica starts the slot's run"
        latest = store.jobs[store.latest_by_kind["train"]]
        assert latest.status == "failed" and "Spark job failed" in latest.error
        # Later in the same slot (never past its end: a run near midnight UTC would
        # otherwise check in the next slot, where a retry is due).
        later = min(slot_time + timedelta(minutes=5),
                    next_slot(slot_time, DAY) - timedelta(microseconds=1))
        again = await check_all(later)
        assert again == [False, False], "a failed run is not retried within its slot"
        outcome["fail"] = False
        tomorrow = await check_all(slot_time + timedelta(days=1))
        assert sorted(tomorrow) == [False, True]
        assert store.jobs[store.latest_by_kind["train"]].status == "succeeded"

    asyncio.run(scenario())
    assert runs == ["local", "local"]
