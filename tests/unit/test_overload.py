"""Load shedding: the gate's bounded queue, and the middleware's 503 problem documents."""
from __future__ import annotations

import asyncio

import httpx

from killrvideo_reco.api.app import create_app
from killrvideo_reco.api.overload import AdaptiveLimit, Gate
from killrvideo_reco.settings import Settings


def fixed(limit: int) -> AdaptiveLimit:
    return AdaptiveLimit(limit, limit, limit)


def test_the_gate_queues_a_few_hands_slots_over_in_order_and_refuses_the_rest():
    async def scenario():
        gate = Gate(fixed(2), queue_limit=2)
        assert [await gate.enter(1.0, 5.0), await gate.enter(1.0, 5.0)] == [None, None]
        first = asyncio.create_task(gate.enter(1.0, 5.0))
        second = asyncio.create_task(gate.enter(1.0, 5.0))
        await asyncio.sleep(0)
        assert gate.queued == 2
        assert await gate.enter(1.0, 5.0) == "queue_full"
        gate.leave()  # the slot goes to the oldest waiter, not to a newcomer
        assert await first is None and not second.done()
        gate.leave()
        assert await second is None
        assert gate.active == 2 and gate.queued == 0

    asyncio.run(scenario())


def test_a_queued_request_still_waiting_at_the_deadline_is_refused():
    async def scenario():
        gate = Gate(fixed(1), queue_limit=5)
        assert await gate.enter(1.0, 0.01) is None
        started = asyncio.get_running_loop().time()
        assert await gate.enter(1.0, 0.05) == "queue_timeout"
        assert asyncio.get_running_loop().time() - started < 0.5
        gate.leave()
        assert gate.active == 0 and await gate.enter(0.0, 1.0) is None

    asyncio.run(scenario())


def test_the_queue_admits_only_what_it_can_serve_within_the_wait_budget():
    now = [0.0]

    async def scenario():
        gate = Gate(fixed(2), queue_limit=100, clock=lambda: now[0])
        assert [await gate.enter(0.27, 5.0), await gate.enter(0.27, 5.0)] == [None, None]
        for _ in range(20):  # busy: a request completes every 50 ms
            now[0] += 0.05
            gate.served(0.1)
        assert abs(gate.mean_interval_s - 0.05) < 1e-9
        waiting = [asyncio.create_task(gate.enter(0.27, 5.0)) for _ in range(5)]
        await asyncio.sleep(0)
        # Places 0-3 are two rounds behind the two slots: queued. Place 4 expects 250 ms:
        # within a 270 ms budget, queued. Place 5 expects 300 ms: refused at once.
        assert gate.queued == 5
        assert await gate.enter(0.27, 5.0) == "queue_full"
        for _ in range(5):
            gate.leave()
        assert [await w for w in waiting] == [None] * 5
        assert gate.active == 2 and gate.queued == 0

    asyncio.run(scenario())


def test_two_rounds_behind_the_slots_always_queue():
    now = [0.0]

    async def scenario():
        gate = Gate(fixed(4), queue_limit=100, clock=lambda: now[0])
        assert [await gate.enter(0.1, 5.0) for _ in range(4)] == [None] * 4
        now[0] += 2.0
        gate.served(2.0)  # one stall: the drain estimate says 2 s per request
        waiting = [asyncio.create_task(gate.enter(0.1, 5.0)) for _ in range(8)]
        await asyncio.sleep(0)
        assert gate.queued == 8, "two rounds behind four slots are not refused"
        assert await gate.enter(0.1, 5.0) == "queue_full"
        for _ in range(8):
            gate.leave()
        assert [await w for w in waiting] == [None] * 8

    asyncio.run(scenario())


def test_idle_time_does_not_count_as_slow_draining():
    now = [0.0]

    async def scenario():
        gate = Gate(fixed(2), queue_limit=100, clock=lambda: now[0])
        for _ in range(3):  # one request every 10 s, each served in 20 ms
            now[0] += 10.0
            assert await gate.enter(0.25, 5.0) is None
            now[0] += 0.02
            gate.served(0.02)
            gate.leave()
        assert abs(gate.mean_interval_s - 0.02) < 1e-9, "only busy time is measured"

    asyncio.run(scenario())


def test_the_limit_grows_while_service_times_hold_and_backs_off_when_they_rise():
    limit = AdaptiveLimit(initial=8, minimum=4, maximum=64)
    for _ in range(200):
        limit.observe(0.020, in_flight=limit.limit)
    grown = limit.limit
    assert grown > 8, "steady service times at full use: the limit grows"
    for _ in range(200):
        limit.observe(0.200, in_flight=limit.limit)  # ten times slower: queueing
    assert limit.limit < grown
    for _ in range(2000):
        limit.observe(0.200, in_flight=limit.limit)
    assert 4 <= limit.limit <= 64


def test_the_limit_stays_within_its_bounds_and_does_not_grow_when_unused():
    limit = AdaptiveLimit(initial=8, minimum=4, maximum=16)
    for _ in range(500):
        limit.observe(0.010, in_flight=1)  # mostly idle: no evidence the limit is too low
    assert limit.limit == 8
    for _ in range(500):
        limit.observe(0.010, in_flight=limit.limit)
    assert limit.limit == 16
    for _ in range(500):
        limit.observe(10.0, in_flight=limit.limit)
    assert limit.limit >= 4
    assert AdaptiveLimit(initial=100, minimum=2, maximum=10).limit == 10


def test_requests_beyond_the_limit_get_a_quick_503_problem_with_retry_after():
    settings = Settings(embedding_provider="hashing", dev_mode=True, min_in_flight_requests=2,
                        initial_in_flight_requests=2, max_in_flight_requests=2,
                        max_queued_requests=1, queue_wait_s=0.05, request_deadline_s=0.05)
    app = create_app(settings)
    release = asyncio.Event()

    async def slow():
        await release.wait()
        return {"ok": True}

    app.add_api_route("/slow", slow)

    async def scenario():
        transport = httpx.ASGITransport(app=app)  # no lifespan: no database needed
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            busy = [asyncio.create_task(client.get("/slow")) for _ in range(2)]
            await asyncio.sleep(0.05)
            shed = await asyncio.gather(*(client.get("/slow") for _ in range(5)))
            health = await client.get("/healthz")
            scrape = (await client.get("/metrics")).text
            release.set()
            served = await asyncio.gather(*busy)
            after = await client.get("/slow")
        return shed, health, scrape, served, after

    shed, health, scrape, served, after = asyncio.run(scenario())
    for response in shed:
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["requestId"] == response.headers["x-request-id"]
        assert "capacity" in response.json()["detail"]
    assert health.status_code == 200, "health checks are never shed"
    assert "killrvideo_http_requests_in_flight 2.0" in scrape
    assert 'killrvideo_http_overload_rejections_total{reason="queue_full"}' in scrape
    assert 'killrvideo_http_overload_rejections_total{reason="queue_timeout"}' in scrape
    assert [r.status_code for r in served] == [200, 200] and after.status_code == 200


def test_serve_drains_for_shutdown_grace_s(monkeypatch):
    import uvicorn

    from killrvideo_reco import cli
    from killrvideo_reco.settings import get_settings

    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    monkeypatch.setenv("SHUTDOWN_GRACE_S", "7.5")
    monkeypatch.setenv("DEV_MODE", "1")
    get_settings.cache_clear()
    try:
        assert cli.cmd_serve(None) == 0
    finally:
        get_settings.cache_clear()
    assert seen["timeout_graceful_shutdown"] == 7.5
    # Idle connections outlive a proxy's (60 s by default): closing first races its reuse.
    assert seen["timeout_keep_alive"] == 75
