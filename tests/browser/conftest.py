"""`make test-browser`: the operator console in Debian's Chromium, driven by Playwright,
against `make run`'s demo (schema + demo data + the app under uvicorn, DEV_MODE) in a
fresh keyspace that is dropped afterwards.

Collected only when KILLRVIDEO_BROWSER_TESTS=1 (the make target sets it and installs
Playwright from requirements-browser.lock), so plain `make test` needs no browser."""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest

if os.environ.get("KILLRVIDEO_BROWSER_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
AXE_VERSION = "4.11.0"  # axe-core from the npm registry (npm pack), cached in .cache/axe
SHOTS = REPO / "docs" / "console"


@pytest.fixture(scope="session")
def demo_app(request):
    """The demo as `make run` serves it; yields the base URL. BROWSER_BASE_URL points the
    test at a demo already served instead (`make run`'s, for a quick rerun)."""
    if os.environ.get("BROWSER_BASE_URL"):
        yield os.environ["BROWSER_BASE_URL"].rstrip("/")
        return
    yield from _served_demo(request.getfixturevalue("cassandra_endpoint"))


def _served_demo(cassandra_endpoint):
    from tools.fuzz import free_port, wait_ready

    host, port = cassandra_endpoint
    keyspace = f"browser_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "CASSANDRA_CONTACT_POINTS": host, "CASSANDRA_PORT": str(port),
           "CASSANDRA_KEYSPACE": keyspace, "DEV_MODE": "1", "LOG_LEVEL": "WARNING"}
    cli = [sys.executable, "-m", "killrvideo_reco.cli"]
    logs = REPO / ".cache" / "browser"
    logs.mkdir(parents=True, exist_ok=True)
    server = None
    try:
        for command in ("schema", "demo"):
            subprocess.run([*cli, command], env=env, cwd=REPO, check=True, timeout=900,
                           stdout=subprocess.DEVNULL)
        app_port = free_port()
        with open(logs / "server.log", "w") as server_log:
            server = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "killrvideo_reco.api.app:create_app",
                 "--factory", "--host", "127.0.0.1", "--port", str(app_port)],
                env=env, cwd=REPO, stdout=server_log, stderr=server_log)
        base = f"http://127.0.0.1:{app_port}"
        wait_ready(base, server)
        yield base
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        subprocess.run([sys.executable, "-c", (
            "from killrvideo_reco.settings import Settings;"
            "from killrvideo_reco.store.connection import connect;"
            "c, s = connect(Settings());"
            f"s.execute('DROP KEYSPACE IF EXISTS {keyspace}', timeout=60); c.shutdown()")],
            env=env, cwd=REPO, check=False, timeout=120)


@pytest.fixture(scope="session")
def axe_script() -> Path:
    target = REPO / ".cache" / "axe" / f"axe-{AXE_VERSION}.min.js"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "pack", f"axe-core@{AXE_VERSION}", "--silent",
                        "--pack-destination", str(target.parent)], check=True, timeout=300)
        tarball = target.parent / f"axe-core-{AXE_VERSION}.tgz"
        with tarfile.open(tarball) as archive:
            source = archive.extractfile("package/axe.min.js")
            assert source is not None, "axe-core's package has no axe.min.js"
            target.write_bytes(source.read())
        tarball.unlink()
    return target


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM,
                                              args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()
