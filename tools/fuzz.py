"""`make fuzz`: schemathesis (every check, stateful phase included) against the real app
served by uvicorn and a real Cassandra, on a fresh keyspace that is dropped afterwards.

The node is the one `make test` uses (CASSANDRA_CONTACT_POINTS, or the local node, started
here if needed and stopped again at the end). The run is bounded by FUZZ_MAX_EXAMPLES
cases per operation and phase (default 80: about 1,000 cases in all) and stopped after
FUZZ_TIMEOUT seconds (default 900). The server's log goes to .cache/fuzz/server.log.
Exit status: schemathesis's (0 only when no check failed)."""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Run as a script, this folder comes first on sys.path, and its `cassandra` package (the
# local node tool) would shadow the driver: import from the repository root instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "tools"]
sys.path.insert(0, str(REPO))

from killrvideo_reco.auth import mint  # noqa: E402
from killrvideo_reco.settings import Settings  # noqa: E402


def load_node_tool():
    from tools.cassandra import node

    return node


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(base: str, server: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"fuzz: the server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"fuzz: {base}/readyz did not answer 200 within {seconds:.0f}s")


def main() -> int:
    node, started_here = None, False
    if not os.environ.get("CASSANDRA_CONTACT_POINTS"):
        node = load_node_tool()
        started_here = not node.port_open()
        if started_here and node.up() != 0:
            print("fuzz: could not start the local Cassandra node", file=sys.stderr)
            return 1
    # A random secret: the fuzzed app runs as in production, not in development mode.
    env = {**os.environ, "CASSANDRA_KEYSPACE": f"fuzz_{uuid.uuid4().hex[:8]}",
           "CASSANDRA_CONTACT_POINTS": os.environ.get("CASSANDRA_CONTACT_POINTS", "127.0.0.1"),
           "EMBEDDING_PROVIDER": "hashing", "JWT_SECRET": secrets.token_hex(32),
           "DEV_MODE": "0", "FEED_CACHE_TTL_S": "0", "LOG_LEVEL": "WARNING",
           "CASSANDRA_WRITE_CONSISTENCY": "ONE", "CASSANDRA_READ_CONSISTENCY": "ONE"}
    os.environ.update(env)
    settings = Settings()
    from killrvideo_reco.store import schema
    from killrvideo_reco.store.connection import connect

    cluster, session = connect(settings)
    server = None
    try:
        schema.apply_migrations(session, settings)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        reports = REPO / ".cache" / "fuzz"
        reports.mkdir(parents=True, exist_ok=True)
        server_log = open(reports / "server.log", "w")  # noqa: SIM115 - closed with the server
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "killrvideo_reco.api.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
             "--no-access-log"], env=env, cwd=REPO, stdout=server_log, stderr=server_log)
        wait_ready(base, server)
        # Creator and moderator (both include viewer): every operation is reachable.
        token = mint(settings, uuid.uuid4(), ["creator", "moderator"], ttl_s=3600)
        command = [
            sys.executable, "-m", "schemathesis.cli",
            "--config-file", str(REPO / "tools" / "schemathesis.toml"), "run", f"{base}/openapi.json",
            "--checks", "all", "--header", f"Authorization: Bearer {token}",
            "--phases", "examples,coverage,fuzzing,stateful",
            "--max-examples", os.environ.get("FUZZ_MAX_EXAMPLES", "80"),
            "--seed", os.environ.get("FUZZ_SEED", "13"), "--workers", "1",
            "--request-timeout", "15", "--suppress-health-check", "too_slow,data_too_large",
            "--report", "junit", "--report-dir", str(reports)]
        print(f"fuzz: {base} on keyspace {settings.cassandra_keyspace}", flush=True)
        return subprocess.call(command, cwd=REPO,
                               timeout=float(os.environ.get("FUZZ_TIMEOUT", "900")))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        session.execute(f"DROP KEYSPACE IF EXISTS {settings.cassandra_keyspace}", timeout=60)
        cluster.shutdown()
        if started_here:
            node.down()


if __name__ == "__main__":
    sys.exit(main())
