"""Stateless replicas and graceful shutdown: two service processes share one keyspace. A job
started on one is followed on the other, never runs twice at once, is reported interrupted
when its process dies (its lease lapses) and resumed by the next job of its kind; SIGTERM
lets an in-flight request finish and makes a running job record where it stopped."""
from __future__ import annotations

import signal
import threading
import time
import uuid

import numpy as np
import pytest

from tests.integration.replicas import Replica, started
from tests.integration.seeding import add_videos, auth, cluster_vectors, mark_watched, unit

pytestmark = pytest.mark.integration
VIEWERS = 40
LEASE_TTL_S = 3
# 256 token ranges, 8 at a time, each SLOW s longer: a profiles job takes ~3 s.
SLOW = {"SLOW_TOKEN_RANGE_S": "0.1", "JOB_LEASE_TTL_S": str(LEASE_TTL_S),
        "JOB_PROGRESS_INTERVAL_S": "0.2", "SHUTDOWN_GRACE_S": "15"}


def running_with_cursor(ranges: int):
    return lambda body: (body["status"] == "running" and body["resumeCursor"] is not None
                         and len(body["resumeCursor"]["done"]) >= ranges)


def finished(body: dict) -> bool:
    return body["status"] != "running"


@pytest.fixture(scope="module")
def world(cassandra):
    settings, session = cassandra
    rng = np.random.default_rng(12)
    videos = add_videos(settings, session, cluster_vectors(rng, unit(rng.normal(size=384)), 20))
    for _ in range(VIEWERS):
        mark_watched(settings, session, uuid.uuid4(), list(rng.choice(videos, 5, replace=False)))
    moderator = auth(settings, uuid.uuid4(), roles=("moderator",))
    return settings, videos, moderator


@pytest.fixture(scope="module")
def replicas(world):
    settings = world[0]
    a, b = started(Replica(settings, **SLOW), Replica(settings, **SLOW))
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def test_a_job_started_on_one_replica_is_followed_on_the_other(world, replicas):
    _, _, moderator = world
    a, b = replicas
    start = a.start_job("profiles", moderator)
    assert start.status_code == 202, start.text
    job_id = start.json()["jobId"]
    # The same kind on the other replica: refused while it runs, naming the running job.
    again = b.start_job("profiles", moderator)
    assert again.status_code == 409, again.text
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["jobId"] == job_id
    midway = b.wait_job(job_id, moderator, running_with_cursor(8), timeout_s=30)
    assert midway["owner"].endswith(f":{a.pid}")
    assert 0 < midway["progress"]["done"] < midway["progress"]["total"]
    done = b.wait_job(job_id, moderator, finished, timeout_s=60)
    assert done["status"] == "succeeded", done
    assert done["result"]["users"] == VIEWERS and done["resumeCursor"] is None
    assert done["progress"]["done"] == done["progress"]["total"]
    assert b.http.get(f"/api/v1/admin/jobs/{uuid.uuid4()}", headers=moderator).status_code == 404


def test_a_killed_replicas_job_is_interrupted_and_resumed_elsewhere(world, replicas):
    _, _, moderator = world
    a, b = replicas
    job_id = a.start_job("profiles", moderator).json()["jobId"]
    b.wait_job(job_id, moderator, running_with_cursor(16), timeout_s=30)
    a.signal(signal.SIGKILL)
    a.wait_exit(10)
    # Its lease lapses within LEASE_TTL_S; then whoever looks reports it interrupted.
    dead = b.wait_job(job_id, moderator, finished, timeout_s=LEASE_TTL_S + 15)
    assert dead["status"] == "interrupted" and "lease" in dead["error"], dead
    saved = dead["resumeCursor"]["done"]
    assert len(saved) >= 16
    resumed = b.start_job("profiles", moderator)
    assert resumed.status_code == 202, resumed.text
    assert resumed.json()["resumedFrom"] == job_id
    done = b.wait_job(resumed.json()["jobId"], moderator, finished, timeout_s=60)
    assert done["status"] == "succeeded", done
    assert done["result"]["resumedRanges"] == len(saved)
    assert done["progress"]["done"] == done["progress"]["total"]


def test_sigterm_drains_requests_and_jobs_resume_after_a_restart(world, replicas):
    settings, videos, moderator = world
    _, b = replicas
    viewer = auth(settings, uuid.uuid4())
    # The job must outlast the request's 2 s drain: 256 ranges x 0.25 s / 8 = 8 s at least.
    slow = {**SLOW, "SLOW_TOKEN_RANGE_S": "0.25", "SLOW_VIDEO_READ_S": "2"}
    (c,) = started(Replica(settings, **slow))
    try:
        job_id = c.start_job("profiles", moderator).json()["jobId"]
        c.wait_job(job_id, moderator, running_with_cursor(16), timeout_s=30)
        answer: dict = {}

        def slow_request() -> None:
            try:
                answer["response"] = c.http.get(f"/api/v1/videos/{videos[0]}", headers=viewer)
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                answer["error"] = error

        request = threading.Thread(target=slow_request)
        request.start()
        _wait_in_flight(c)
        c.signal(signal.SIGTERM)
        request.join(timeout=20)
        assert not request.is_alive(), "the in-flight request hung"
        assert "error" not in answer, answer
        assert answer["response"].status_code == 200, answer["response"].text
        # uvicorn re-raises the signal once its shutdown is done: -SIGTERM is a clean exit.
        assert c.wait_exit(30) in (0, -signal.SIGTERM), c.log_tail()
    finally:
        c.stop()
    stopped = b.job(job_id, moderator)
    assert stopped["status"] == "interrupted" and "shut down" in stopped["error"], stopped
    saved = stopped["resumeCursor"]["done"]
    assert len(saved) >= 16

    (restarted,) = started(Replica(settings, **SLOW))
    try:
        # The lease was released at shutdown: no wait for its TTL.
        resumed = restarted.start_job("profiles", moderator)
        assert resumed.status_code == 202, resumed.text
        assert resumed.json()["resumedFrom"] == job_id
        done = restarted.wait_job(resumed.json()["jobId"], moderator, finished, timeout_s=60)
    finally:
        restarted.stop()
    assert done["status"] == "succeeded", done
    assert done["result"]["resumedRanges"] == len(saved)


def _wait_in_flight(replica: Replica, timeout_s: float = 5.0) -> None:
    """Until the slow video read is being served (it shows in the in-flight gauge)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if "killrvideo_http_requests_in_flight 1.0" in replica.http.get("/metrics").text:
            return
        time.sleep(0.05)
    raise AssertionError("the slow request never started")
