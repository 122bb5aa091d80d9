"""A local Spark standalone cluster on 127.0.0.1: one master and SPARK_WORKERS workers
(default 2), from the jars of the PySpark wheel in the running venv. The wheel has no
sbin/start-master.sh, so the master and workers are started as the scripts would:
`java -cp pyspark/jars/* org.apache.spark.deploy.{master.Master,worker.Worker}`.

Usage: python tools/spark/cluster.py up|down|status

Logs, pid files and the workers' scratch directories are under .spark/ (gitignored).
The master listens on 127.0.0.1:7077 (SPARK_MASTER=spark://127.0.0.1:7077), its web UI
on 127.0.0.1:18081. Each worker offers SPARK_WORKER_CORES cores (default 1) and
SPARK_WORKER_MEMORY (default 1500m) to executors.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HOME = Path(os.environ.get("SPARK_CLUSTER_DIR", REPO / ".spark")).resolve()
HOST, MASTER_PORT, MASTER_UI = "127.0.0.1", 7077, 18081
MASTER_URL = f"spark://{HOST}:{MASTER_PORT}"
START_TIMEOUT_S = 90.0


def log(message: str) -> None:
    print(f"spark-cluster: {message}", file=sys.stderr, flush=True)


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def workers() -> int:
    return int(os.environ.get("SPARK_WORKERS", "2"))


def answering(port: int = MASTER_PORT) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def alive_workers() -> int:
    """Workers the master counts as ALIVE (its web UI's JSON), 0 if it does not answer."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{MASTER_UI}/json/", timeout=2) as answer:
            return int(json.load(answer).get("aliveworkers", 0))
    except (OSError, ValueError):
        return 0


def _start(name: str, main_class: str, args: list[str]) -> None:
    home = spark_home()
    logs = HOME / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    # SPARK_SCALA_VERSION: the launcher that builds executor commands looks for a source
    # build's directories otherwise (the wheel has no RELEASE file).
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": HOST,
           "SPARK_SCALA_VERSION": "2.12",
           "SPARK_LOCAL_DIRS": str(HOME / "local")}
    command = ["java", "-Xmx512m", "-cp", f"{home / 'conf'}:{home / 'jars'}/*", main_class, *args]
    with open(logs / f"{name}.log", "ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                   cwd=HOME, start_new_session=True)
    (HOME / f"{name}.pid").write_text(str(process.pid))
    log(f"started {name} (pid {process.pid}), log {logs / (name + '.log')}")


def up() -> int:
    if answering():
        if not (HOME / "master.pid").exists():
            log(f"a master this checkout did not start answers on {HOST}:{MASTER_PORT}")
            return 1
        log(f"up already ({alive_workers()} workers alive) at {MASTER_URL}")
        return 0
    _start("master", "org.apache.spark.deploy.master.Master",
           ["--host", HOST, "--port", str(MASTER_PORT), "--webui-port", str(MASTER_UI)])
    if not _wait(lambda: answering() and alive_workers() == 0 and _ui_up(), "the master"):
        return 1
    cores = os.environ.get("SPARK_WORKER_CORES", "1")
    memory = os.environ.get("SPARK_WORKER_MEMORY", "1500m")
    for n in range(1, workers() + 1):
        work = HOME / f"worker{n}"
        work.mkdir(parents=True, exist_ok=True)
        _start(f"worker{n}", "org.apache.spark.deploy.worker.Worker",
               ["--host", HOST, "--cores", cores, "--memory", memory, "--work-dir", str(work),
                "--webui-port", str(MASTER_UI + n), MASTER_URL])
    if not _wait(lambda: alive_workers() >= workers(), f"{workers()} workers"):
        return 1
    log(f"up: {MASTER_URL} with {workers()} workers ({cores} core, {memory} each); "
        f"web UI http://{HOST}:{MASTER_UI}")
    return 0


def _ui_up() -> bool:
    try:
        urllib.request.urlopen(f"http://{HOST}:{MASTER_UI}/json/", timeout=2).close()
        return True
    except OSError:
        return False


def _wait(ready, what: str) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(0.5)
    log(f"{what} not up within {START_TIMEOUT_S:.0f}s; see {HOME / 'logs'}")
    return False


def down() -> int:
    """Stop every process this checkout started (by its pid file), workers first."""
    pids = sorted(HOME.glob("*.pid"), key=lambda p: p.name == "master.pid")
    for pid_file in pids:
        pid = int(pid_file.read_text())
        try:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        pid_file.unlink()
        log(f"stopped {pid_file.stem} (pid {pid})")
    return 0


def status() -> int:
    if not answering():
        print("spark: down")
        return 1
    print(f"spark: {MASTER_URL} up, {alive_workers()} workers alive")
    return 0


if __name__ == "__main__":
    commands = {"up": up, "down": down, "status": status}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    sys.exit(commands[sys.argv[1]]())
