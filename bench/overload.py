"""A bounded overload run: far more concurrent For You requests than the service's
concurrency limit, against the served app on loopback.

    .venv/bin/python -m bench.overload [--concurrency 300] [--requests 3000] [--no-limit]

Seeds (once, cached) a small keyspace with viewers that have a profile, serves the real app
in a subprocess with MAX_IN_FLIGHT_REQUESTS / MAX_QUEUED_REQUESTS / QUEUE_WAIT_S, and runs
a closed loop of `--concurrency` clients that retry at once (no back-off: the worst case),
bounded by `--requests` and `--max-seconds`. Every request has a client timeout; one that
hits it counts as hung. Prints served (2xx) and shed (503) counts and latencies.
`--no-limit` lifts the limit, to compare with what clients get without shedding."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time

import httpx

from bench import seed
from bench.report import summarise
from bench.server import Server
from killrvideo_reco.auth import mint
from killrvideo_reco.settings import Settings
from killrvideo_reco.store.connection import connect

FEED = "/api/v1/recommendations/foryou"
SPEC = seed.Spec("bench_overload", videos=2000, users=300, history=20)
CLIENT_TIMEOUT_S = 15.0
WARMUP_REQUESTS = 100


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=300)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--in-flight", type=int, default=Settings().max_in_flight_requests)
    parser.add_argument("--queued", type=int, default=Settings().max_queued_requests)
    parser.add_argument("--queue-wait", type=float, default=Settings().queue_wait_s)
    parser.add_argument("--no-limit", action="store_true", help="lift the concurrency limit")
    return parser.parse_args(argv)


class Connection:
    """A keep-alive HTTP/1.1 connection with a minimal client: a Python load generator on a
    shared 2-core box must not spend more CPU per request than the service (httpx does)."""

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, token: str) -> tuple[int, dict[str, str]]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          f"Authorization: {token}\r\n\r\n".encode())
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in head[1:] if ": " in line)
        await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection") == "close":
            self.close()
        return int(head[0].split()[1]), headers

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def closed_loop(port: int, tokens: list[str], args) -> dict:
    rng = random.Random(7)
    outcomes: dict[str, list[float]] = {"2xx": [], "503": [], "other": [], "hung": [],
                                        "error": []}
    retry_after: set[str] = set()
    path = f"{FEED}?pageSize=10"

    async def call(connection: Connection, record: bool) -> None:
        started = time.perf_counter()
        try:
            status, headers = await asyncio.wait_for(
                connection.get(path, rng.choice(tokens)), CLIENT_TIMEOUT_S)
            kind = "2xx" if 200 <= status < 300 else "503" if status == 503 else "other"
            if status == 503:
                retry_after.add(headers.get("retry-after", "missing"))
        except asyncio.TimeoutError:
            kind = "hung"
            connection.close()
        except (OSError, asyncio.IncompleteReadError, ValueError):
            kind = "error"
            connection.close()
        if record:
            outcomes[kind].append((time.perf_counter() - started) * 1000)

    warm = Connection(port)
    for _ in range(WARMUP_REQUESTS):  # sequential: caches and prepared statements warm
        await call(warm, record=False)
    warm.close()
    issued, deadline = 0, time.perf_counter() + args.max_seconds
    started = time.perf_counter()

    async def worker() -> None:
        nonlocal issued
        connection = Connection(port)
        try:
            while issued < args.requests and time.perf_counter() < deadline:
                issued += 1
                await call(connection, record=True)
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - started
    return {"elapsed_s": round(elapsed, 1), "issued": issued, "retry_after": sorted(retry_after),
            **{kind: summarise(values) for kind, values in outcomes.items()}}


def server_side(scrape: str) -> dict:
    """From the service's own latency histogram (time inside the app, so without the time a
    request waits for the event loop): per status, the share answered within 10/100 ms."""
    counts: dict[str, dict[str, float]] = {}
    for line in scrape.splitlines():
        if not line.startswith("killrvideo_http_request_duration_seconds_bucket{"):
            continue
        labels, value = line.rsplit(" ", 1)
        fields = dict(part.split("=", 1) for part in labels[labels.index("{") + 1:-1].split(","))
        status, bound = fields["status"].strip('"'), fields["le"].strip('"')
        if bound in ("0.01", "0.1", "+Inf"):
            counts.setdefault(status, {}).setdefault(bound, 0.0)
            counts[status][bound] += float(value)
    return {status: {"n": int(c["+Inf"]),
                     "within_10ms": round(c["0.01"] / c["+Inf"], 3) if c["+Inf"] else None,
                     "within_100ms": round(c["0.1"] / c["+Inf"], 3) if c["+Inf"] else None}
            for status, c in counts.items()}


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = seed.bench_settings(SPEC.keyspace)
    cluster, session = connect(settings)
    try:
        seed.ensure(SPEC, session, compact=False)
    finally:
        cluster.shutdown()
    limit = {"MAX_IN_FLIGHT_REQUESTS": str(10**6 if args.no_limit else args.in_flight),
             "MAX_QUEUED_REQUESTS": str(args.queued), "QUEUE_WAIT_S": str(args.queue_wait)}
    tokens = [f"Bearer {mint(Settings(), user, ['viewer'])}" for user in seed.user_ids(SPEC)]
    with Server(SPEC.keyspace, extra_env=limit) as server:
        result = asyncio.run(closed_loop(server.port, tokens, args))
        result["server_side"] = server_side(httpx.get(f"{server.base_url}/metrics").text)
    result["settings"] = limit if not args.no_limit else {"MAX_IN_FLIGHT_REQUESTS": "unlimited"}
    result["concurrency"] = args.concurrency
    print(json.dumps(result, indent=1, default=lambda v: round(v, 1)))
    for kind in ("2xx", "503", "other", "hung", "error"):
        s = result[kind]
        if s["n"]:
            print(f"{kind:>5}: {s['n']:5d}  p50 {s['p50']:7.1f} ms  p99 {s['p99']:7.1f} ms  "
                  f"max {s['max']:7.1f} ms")
    served = result["2xx"]["n"]
    print(f"{served / result['elapsed_s']:.0f} served/s over {result['elapsed_s']} s, "
          f"{result['issued']} requests, {result['hung']['n']} hung (client timeout "
          f"{CLIENT_TIMEOUT_S:g} s), pid {os.getpid()}")
    return 0 if result["hung"]["n"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
