"""A bounded overload run: far more concurrent For You requests than the service's
concurrency limit, against the served app on loopback.

    .venv/bin/python -m bench.overload [--rate 400] [--seconds 10] [--no-limit] [--storm]

Seeds (once, cached) a small keyspace with viewers that have a profile, and serves the
real app in a subprocess with its shipped overload settings (the adaptive limit up to
MAX_IN_FLIGHT_REQUESTS, MAX_QUEUED_REQUESTS, QUEUE_WAIT_S), or those given.
Default: open loop, requests sent at `--rate` per second for `--seconds` on up to
`--connections` keep-alive connections, whatever the answers (latency counts from the
moment a request was due). `--storm`: a closed loop of `--connections` clients that send
again the moment an answer arrives, ignoring Retry-After (`--seconds` bound). Every request
has a client timeout; one that hits it counts as hung. `--no-limit` lifts the limit, to
compare. Prints served (2xx) and shed (503) counts and latencies."""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

import httpx

from bench import seed
from bench.loadgen import freeze_client_heap
from bench.report import summarise
from bench.server import Server
from killrvideo_reco.auth import mint
from killrvideo_reco.settings import Settings
from killrvideo_reco.store.connection import connect
from killrvideo_reco.store.schema import apply_migrations

FEED = "/api/v1/recommendations/foryou?pageSize=10"
SPEC = seed.Spec("bench_overload", videos=2000, users=300, history=20)
CLIENT_TIMEOUT_S = 15.0
WARMUP_REQUESTS = 100
KINDS = ("2xx", "503", "other", "hung", "error")


def parse_args(argv=None) -> argparse.Namespace:
    defaults = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=400.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=400)
    parser.add_argument("--storm", action="store_true", help="closed loop, no back-off")
    parser.add_argument("--in-flight", type=int, default=defaults.max_in_flight_requests)
    parser.add_argument("--queued", type=int, default=defaults.max_queued_requests)
    parser.add_argument("--queue-wait", type=float, default=defaults.queue_wait_s)
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
        request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   f"Authorization: {token}\r\n\r\n").encode()
        reused = self.writer is not None
        try:
            raw = await self._send(request)
        except (ConnectionError, asyncio.IncompleteReadError):
            if not reused:
                raise
            # The server closed it while idle (keep-alive timeout): what browsers do, resend.
            self.close()
            raw = await self._send(request)
        head = raw.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in head[1:] if ": " in line)
        await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection") == "close":
            self.close()
        return int(head[0].split()[1]), headers

    async def _send(self, request: bytes) -> bytes:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(request)
        return await self.reader.readuntil(b"\r\n\r\n")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Recorder:
    def __init__(self, tokens: list[str]):
        self.tokens, self.rng = tokens, random.Random(7)
        self.latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
        self.retry_after: set[str] = set()
        self.errors: set[str] = set()

    async def call(self, connection: Connection, since: float, record: bool = True) -> None:
        """One request; its latency counts from `since` (when it was due)."""
        try:
            status, headers = await asyncio.wait_for(
                connection.get(FEED, self.rng.choice(self.tokens)), CLIENT_TIMEOUT_S)
            kind = "2xx" if 200 <= status < 300 else "503" if status == 503 else "other"
            if status == 503:
                self.retry_after.add(headers.get("retry-after", "missing"))
        except asyncio.TimeoutError:
            kind = "hung"
            connection.close()
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            kind = "error"
            self.errors.add(f"{type(error).__name__}: {error}"[:120])
            connection.close()
        if record:
            self.latencies[kind].append((time.perf_counter() - since) * 1000)


async def open_loop(port: int, recorder: Recorder, args) -> None:
    idle: list[Connection] = []
    slots = asyncio.Semaphore(args.connections)

    async def one(due: float) -> None:
        async with slots:  # waiting here counts: latency is from `due`
            connection = idle.pop() if idle else Connection(port)
            await recorder.call(connection, due)
            idle.append(connection)

    tasks, start = [], time.perf_counter()
    for n in range(int(args.rate * args.seconds)):
        due = start + n / args.rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    for connection in idle:
        connection.close()


async def storm(port: int, recorder: Recorder, args) -> None:
    deadline = time.perf_counter() + args.seconds

    async def client() -> None:
        connection = Connection(port)
        while time.perf_counter() < deadline:
            await recorder.call(connection, time.perf_counter())
        connection.close()

    await asyncio.gather(*(client() for _ in range(args.connections)))


async def run(port: int, tokens: list[str], args) -> dict:
    freeze_client_heap()
    recorder = Recorder(tokens)
    warm, started = Connection(port), time.perf_counter()
    for _ in range(WARMUP_REQUESTS):  # one at a time: warm caches, and the unloaded latency
        await recorder.call(warm, time.perf_counter())
    warm.close()
    alone = summarise(recorder.latencies["2xx"])
    recorder.latencies = {kind: [] for kind in KINDS}
    started = time.perf_counter()
    await (storm if args.storm else open_loop)(port, recorder, args)
    return {"elapsed_s": round(time.perf_counter() - started, 1), "unloaded_2xx": alone,
            "retry_after": sorted(recorder.retry_after), "errors": sorted(recorder.errors)[:5],
            **{kind: summarise(values) for kind, values in recorder.latencies.items()}}


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
    return {status: {"n": int(c["+Inf"]), "within_10ms": round(c["0.01"] / c["+Inf"], 3),
                     "within_100ms": round(c["0.1"] / c["+Inf"], 3)}
            for status, c in counts.items() if c.get("+Inf")}


def loop_lag(scrape: str) -> dict:
    """The server's event-loop lag histogram: samples and the share within 10 / 50 ms."""
    buckets = {}
    for line in scrape.splitlines():
        if line.startswith("killrvideo_event_loop_lag_seconds_bucket{"):
            labels, value = line.rsplit(" ", 1)
            buckets[labels.split('le="', 1)[1].split('"', 1)[0]] = float(value)
    total = buckets.get("+Inf", 0.0)
    return {"n": int(total), **({f"within_{ms}ms": round(buckets[bound] / total, 3)
                                for ms, bound in (("10", "0.01"), ("50", "0.05"))} if total
                               else {})}


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = seed.bench_settings(SPEC.keyspace)
    cluster, session = connect(settings)
    try:
        seed.ensure(SPEC, session, compact=False)
        apply_migrations(session, settings)  # a cached keyspace may predate newer files
    finally:
        cluster.shutdown()
    ceiling = str(10**6 if args.no_limit else args.in_flight)
    limit = {"MAX_IN_FLIGHT_REQUESTS": ceiling, "MAX_QUEUED_REQUESTS": str(args.queued),
             "QUEUE_WAIT_S": str(args.queue_wait)}
    if args.no_limit:  # no adaptive limit either: every request is served at once
        limit.update(MIN_IN_FLIGHT_REQUESTS=ceiling, INITIAL_IN_FLIGHT_REQUESTS=ceiling)
    tokens = [f"Bearer {mint(Settings(), user, ['viewer'])}" for user in seed.user_ids(SPEC)]
    with Server(SPEC.keyspace, extra_env=limit) as server:
        result = asyncio.run(run(server.port, tokens, args))
        scrape = httpx.get(f"{server.base_url}/metrics").text
        result["server_side"], result["loop_lag"] = server_side(scrape), loop_lag(scrape)
    result["limit"] = "none" if args.no_limit else limit
    result["load"] = (f"storm: {args.connections} clients for {args.seconds:g} s" if args.storm
                      else f"open loop: {args.rate:g}/s for {args.seconds:g} s on up to "
                           f"{args.connections} connections")
    print(json.dumps(result, default=lambda v: round(v, 1)))
    print(f"{result['load']}; limit {result['limit']}")
    u = result["unloaded_2xx"]
    print(f"unloaded, one at a time: p50 {u['p50']:.1f} ms, p99 {u['p99']:.1f} ms")
    for kind in KINDS:
        s = result[kind]
        if s["n"]:
            print(f"{kind:>5}: {s['n']:5d}  p50 {s['p50']:7.1f} ms  p99 {s['p99']:7.1f} ms  "
                  f"max {s['max']:7.1f} ms")
    print(f"server event-loop lag: {result['loop_lag']} (killrvideo_event_loop_lag_seconds)")
    print(f"{result['2xx']['n'] / result['elapsed_s']:.0f} served/s over "
          f"{result['elapsed_s']} s; {result['hung']['n']} hung (client timeout "
          f"{CLIENT_TIMEOUT_S:g} s); Retry-After {result['retry_after']}")
    return 0 if result["hung"]["n"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
