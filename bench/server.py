"""The app under test, served by uvicorn in a process of its own on loopback."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from killrvideo_reco.settings import Settings

REPO = Path(__file__).resolve().parents[1]
REAL_APP = "killrvideo_reco.api.app:create_app"
INSTRUMENTED_APP = "bench.instrumented:create_app"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, keyspace: str, app: str = REAL_APP, extra_env: dict | None = None):
        self.keyspace, self.app = keyspace, app
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.command = [sys.executable, "-m", "uvicorn", app, "--factory",
                        "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                        "--no-access-log", "--timeout-keep-alive", os.environ.get(
                            "HTTP_KEEP_ALIVE_S",
                            str(Settings.model_fields["http_keep_alive_s"].default))]
        self.env = {**os.environ, "CASSANDRA_KEYSPACE": keyspace, "EMBEDDING_PROVIDER": "hashing",
                    "VECTOR_DIMENSION": "384",
                    # A local benchmark: the development JWT secret is fine here. The
                    # overload limit and the access log are as shipped: benchmarks measure
                    # what a user gets.
                    "DEV_MODE": os.environ.get("DEV_MODE", "1"),
                    "PYTHONPATH": str(REPO), **(extra_env or {})}
        self.process: subprocess.Popen | None = None
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-uvicorn-{self.port}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 90.0) -> "Server":
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(self.command, cwd=REPO, env=self.env,
                                        stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"the app did not become ready in {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "_log", None):
            self._log.close()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
