"""Overload against a served process on a real Cassandra: with a tiny concurrency limit,
a burst gets quick 503 problems with Retry-After for the excess, and the rest succeed."""
from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import numpy as np
import pytest

from tests.integration.replicas import Replica, started
from tests.integration.seeding import add_videos, auth, cluster_vectors, unit

pytestmark = pytest.mark.integration
BURST = 24
READ_S = 0.5  # each served request holds its slot this long (a slow video read)


@pytest.fixture(scope="module")
def service(cassandra):
    settings, session = cassandra
    rng = np.random.default_rng(5)
    video = add_videos(settings, session, cluster_vectors(rng, unit(rng.normal(size=384)), 1))[0]
    # The adaptive limit pinned at 2.
    (replica,) = started(Replica(settings, MIN_IN_FLIGHT_REQUESTS="2",
                                 INITIAL_IN_FLIGHT_REQUESTS="2", MAX_IN_FLIGHT_REQUESTS="2",
                                 MAX_QUEUED_REQUESTS="2", QUEUE_WAIT_S="0.05",
                                 SLOW_VIDEO_READ_S=str(READ_S)))
    try:
        yield settings, replica, video
    finally:
        replica.stop()


async def _burst(base_url: str, path: str, headers: dict) -> list[tuple[httpx.Response, float]]:
    limits = httpx.Limits(max_connections=BURST + 2)
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0, limits=limits) as client:
        async def one():
            started_at = time.perf_counter()
            response = await client.get(path, headers=headers)
            return response, time.perf_counter() - started_at

        answers = asyncio.gather(*(one() for _ in range(BURST)))
        await asyncio.sleep(0.1)  # mid-burst: health checks still answer
        health = await client.get("/healthz")
        assert health.status_code == 200
        return await answers


def test_a_burst_beyond_the_limit_is_shed_quickly_and_the_rest_served(service):
    settings, replica, video = service
    headers = auth(settings, uuid.uuid4())
    answers = asyncio.run(_burst(replica.base_url, f"/api/v1/videos/{video}", headers))
    served = [(r, s) for r, s in answers if r.status_code == 200]
    shed = [(r, s) for r, s in answers if r.status_code == 503]
    assert len(served) + len(shed) == BURST, [r.status_code for r, _ in answers]
    assert len(served) >= 2 and len(shed) >= BURST // 2, (len(served), len(shed))
    assert all(r.json()["videoId"] == str(video) for r, _ in served)
    for response, seconds in shed:
        assert response.headers["retry-after"] == "1"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 503 and response.json()["requestId"]
        assert seconds < READ_S, "a shed request is answered without waiting for a slot"
    scrape = replica.http.get("/metrics").text
    assert "killrvideo_http_overload_rejections_total" in scrape
    # Once the burst is over, the service serves normally again.
    assert replica.http.get(f"/api/v1/videos/{video}", headers=headers).status_code == 200
