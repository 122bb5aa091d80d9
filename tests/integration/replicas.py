"""Service replicas as real OS processes on loopback (bench/server.py's Server, started
through `cli serve` in tests/integration/slow_service.py), sharing one test keyspace."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx

from bench.server import Server

JOBS = "/api/v1/admin/jobs"


class Replica(Server):
    def __init__(self, settings, **env: str):
        super().__init__(settings.cassandra_keyspace, extra_env={
            "CASSANDRA_CONTACT_POINTS": ",".join(settings.contact_points),
            "CASSANDRA_PORT": str(settings.cassandra_port),
            "CASSANDRA_READ_CONSISTENCY": settings.cassandra_read_consistency,
            "CASSANDRA_WRITE_CONSISTENCY": settings.cassandra_write_consistency,
            "CASSANDRA_REQUEST_TIMEOUT_S": str(settings.cassandra_request_timeout_s),
            "FEED_CACHE_TTL_S": "0", **env})
        self.env.update(HOST="127.0.0.1", PORT=str(self.port))
        self.command = [sys.executable, "-m", "tests.integration.slow_service"]
        self.http = httpx.Client(base_url=self.base_url, timeout=15.0)

    def signal(self, signum: int) -> None:
        assert self.process is not None and self.process.poll() is None, self.log_tail()
        self.process.send_signal(signum)

    def wait_exit(self, timeout_s: float) -> int:
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the process did not exit in {timeout_s}s:\n{self.log_tail()}") from None

    def stop(self) -> None:
        self.http.close()
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        super().stop()

    # --- the job API --------------------------------------------------------------

    def start_job(self, kind: str, headers: dict) -> httpx.Response:
        return self.http.post(f"{JOBS}/{kind}", headers=headers)

    def job(self, job_id: str, headers: dict) -> dict:
        response = self.http.get(f"{JOBS}/{job_id}", headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_job(self, job_id: str, headers: dict, until, timeout_s: float) -> dict:
        """Poll the job until `until(body)` holds; fails with the last body past the time."""
        deadline, body = time.monotonic() + timeout_s, {}
        while time.monotonic() < deadline:
            body = self.job(job_id, headers)
            if until(body):
                return body
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} never reached the state wanted: {body}")


def started(*replicas: Replica) -> list[Replica]:
    """Start replicas one after the other (each connects and prepares its statements);
    stop the ones already up if one fails."""
    up: list[Replica] = []
    try:
        for replica in replicas:
            up.append(replica.start(timeout=120))
    except BaseException:
        for replica in up:
            replica.stop()
        raise
    return up
