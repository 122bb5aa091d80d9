"""View-event load generation, run in a worker process of its own (never the server's).

Closed-loop asyncio clients POST playback events with fresh event ids, each over its own
keep-alive HTTP/1.1 connection (a few lines of asyncio streams: httpx costs more CPU per
request than the service's own view path, and the generator shares the machine). Every
answer is recorded: what was acknowledged is what the verification step must find in
Cassandra exactly once. A non-2xx event is re-sent with the SAME event id (the client
contract), so nothing the generator sent is lost, and retries test idempotency too.
"""
from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass, field

from bench.loadgen import freeze_client_heap

RETRIES = 5


@dataclass
class SentEvent:
    user_id: str
    video_id: str
    event_id: str
    status: int             # the last HTTP status (0: exception)
    attempts: int
    recorded: bool          # the service said it counted it (not a duplicate)


@dataclass
class IngestResult:
    concurrency: int
    latencies_ms: list[float] = field(default_factory=list)   # per HTTP attempt
    statuses: dict[int, int] = field(default_factory=dict)    # per HTTP attempt, non-2xx only
    errors: list[str] = field(default_factory=list)
    events: list[SentEvent] = field(default_factory=list)
    elapsed_s: float = 0.0
    stopped_by: str = ""

    @property
    def non_2xx(self) -> int:
        return sum(self.statuses.values())


def worker_pid() -> int:
    import os
    return os.getpid()


def view_cell(base_url: str, users: list[str], videos: list[str], concurrency: int,
              max_events: int, max_seconds: float, seed: int,
              same_user: bool = False) -> IngestResult:
    from killrvideo_reco.auth import mint
    from killrvideo_reco.settings import Settings

    settings = Settings()
    tokens = {u: f"Bearer {mint(settings, uuid.UUID(u), ['viewer'])}" for u in users}
    return asyncio.run(_view_cell(base_url, tokens, videos, concurrency, max_events,
                                  max_seconds, seed, same_user))


class Connection:
    """One keep-alive HTTP/1.1 connection to the app; reopened after any error."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, authorization: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: {authorization}"
                f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        self.writer.write(head.encode() + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _view_cell(base_url, tokens, videos, concurrency, max_events, max_seconds, seed,
                     same_user) -> IngestResult:
    freeze_client_heap()
    rng = random.Random(seed)
    users = list(tokens)
    result = IngestResult(concurrency)
    issued = 0
    deadline = time.perf_counter() + max_seconds
    host, port = base_url.split("//", 1)[1].split(":")
    async def send(connection: Connection, user: str, video: str, event_id: str,
                   seconds: float) -> SentEvent:
        status, recorded, attempt = 0, False, 0
        body = json.dumps({"eventId": event_id, "secondsWatched": seconds}).encode()
        for attempt in range(1, RETRIES + 1):
            start = time.perf_counter()
            try:
                status, answer = await asyncio.wait_for(connection.post(
                    f"/api/v1/videos/{video}/views", body, tokens[user]), 30.0)
                if status == 200:
                    recorded = bool(json.loads(answer).get("recorded"))
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                    ValueError, IndexError) as error:
                connection.close()
                status = 0
                if len(result.errors) < 5:
                    result.errors.append(f"{type(error).__name__}: {error}")
            result.latencies_ms.append((time.perf_counter() - start) * 1000.0)
            if 200 <= status < 300:
                break
            result.statuses[status] = result.statuses.get(status, 0) + 1
            await asyncio.sleep(0.05 * attempt)
        return SentEvent(user, video, event_id, status, attempt, recorded)

    async def worker() -> None:
        nonlocal issued
        connection = Connection(host, int(port))
        try:
            while issued < max_events and time.perf_counter() < deadline:
                issued += 1
                user = users[0] if same_user else rng.choice(users)
                # 60-100% of a 10-minute video: a like, so every event moves the profile.
                result.events.append(await send(connection, user, rng.choice(videos),
                                                str(uuid.uuid4()), rng.uniform(360.0, 600.0)))
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed_s = time.perf_counter() - started
    result.stopped_by = "count" if issued >= max_events else "time"
    return result
