"""Mixed load for the node-loss test: view events and feed requests from many viewers,
spread over several service processes, bounded in count and time.

A view event is re-sent with the same event id until it is acknowledged (the client
contract), so the ledger knows exactly which events must be in Cassandra afterwards."""
from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field

import httpx
import numpy as np

VIEW_TRIES = 40


@dataclass
class Ledger:
    phase: str = "steady"
    acked: list[tuple[uuid.UUID, uuid.UUID, str]] = field(default_factory=list)
    unacked: list[tuple[uuid.UUID, uuid.UUID, str]] = field(default_factory=list)
    view_retries: int = 0
    feed_ok: dict[str, int] = field(default_factory=dict)
    feed_failed: list[str] = field(default_factory=list)
    latency_ms: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def timed(self, kind: str, started: float) -> None:
        self.latency_ms.setdefault((kind, self.phase), []).append(
            (time.perf_counter() - started) * 1000)

    def summary(self) -> dict:
        out = {}
        for (kind, phase), values in sorted(self.latency_ms.items()):
            out[f"{kind} {phase}"] = (len(values), float(np.percentile(values, 50)),
                                      float(np.percentile(values, 99)))
        return out


async def run_load(bases: list[str], tokens: dict[uuid.UUID, str], videos: list[uuid.UUID],
                   ledger: Ledger, stop: asyncio.Event, workers: int, max_events: int,
                   seed: int = 7) -> None:
    rng = random.Random(seed)
    viewers = list(tokens)
    issued = 0
    limits = httpx.Limits(max_connections=workers * 2, max_keepalive_connections=workers * 2)
    async with httpx.AsyncClient(limits=limits, timeout=20.0) as client:
        async def view(base: str, user: uuid.UUID) -> None:
            video, event_id = rng.choice(videos), str(uuid.uuid4())
            for _ in range(VIEW_TRIES):
                started, status = time.perf_counter(), 0
                try:
                    response = await client.post(
                        f"{base}/api/v1/videos/{video}/views",
                        json={"eventId": event_id, "secondsWatched": rng.uniform(300, 600)},
                        headers={"Authorization": tokens[user]})
                    status = response.status_code
                except httpx.HTTPError:
                    pass
                ledger.timed("view", started)
                if 200 <= status < 300:
                    ledger.acked.append((user, video, event_id))
                    return
                ledger.view_retries += 1
                base = rng.choice(bases)  # any replica may take the retry
                await asyncio.sleep(0.2)
            ledger.unacked.append((user, video, event_id))

        async def feed(base: str, user: uuid.UUID) -> None:
            started, status, detail = time.perf_counter(), 0, ""
            try:
                response = await client.get(f"{base}/api/v1/recommendations/foryou",
                                            params={"pageSize": "10"},
                                            headers={"Authorization": tokens[user]})
                status, detail = response.status_code, response.text[:200]
            except httpx.HTTPError as error:
                detail = f"{type(error).__name__}: {error}"
            ledger.timed("feed", started)
            if status == 200:
                ledger.feed_ok[ledger.phase] = ledger.feed_ok.get(ledger.phase, 0) + 1
            else:
                ledger.feed_failed.append(f"{ledger.phase}: {status} {detail}")

        async def worker() -> None:
            nonlocal issued
            while not stop.is_set() and issued < max_events:
                issued += 1
                user, base = rng.choice(viewers), rng.choice(bases)
                await view(base, user)
                await feed(rng.choice(bases), user)

        await asyncio.gather(*(worker() for _ in range(workers)))
