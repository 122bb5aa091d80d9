"""A local single-node Cassandra 5.0 from Maven Central's jars, for development and tests.

Usage: python tools/cassandra/node.py up|down|status|version

No Docker needed: the server jars are resolved once with Maven into .cassandra/lib
(git-ignored, reused by later starts); config, logs and data live in .cassandra/ too.
Settings (environment): CASSANDRA_HOME_DIR (default <repo>/.cassandra),
CASSANDRA_VERSION (default: newest 5.0.x), CASSANDRA_HEAP_MAX (default 2g),
CASSANDRA_START_TIMEOUT_S (default 240), CASSANDRA_PORT (default 9042).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
HOME = Path(os.environ.get("CASSANDRA_HOME_DIR", REPO / ".cassandra")).resolve()
LIB, CONF, DATA, LOGS = HOME / "lib", HOME / "conf", HOME / "data", HOME / "logs"
PID_FILE = HOME / "cassandra.pid"
HOST = "127.0.0.1"
NATIVE_PORT = int(os.environ.get("CASSANDRA_PORT", "9042"))
STORAGE_PORT = NATIVE_PORT - 9042 + 7000
JMX_PORT = NATIVE_PORT - 9042 + 7199

# From Cassandra's conf/jvm17-server.options: JDK 17 needs these to run the server.
JDK17_FLAGS = [
    *(f"--add-exports={m}=ALL-UNNAMED" for m in (
        "java.base/jdk.internal.misc", "java.base/java.lang.ref",
        "java.management.rmi/com.sun.jmx.remote.internal.rmi",
        "java.management/com.sun.jmx.remote.security", "java.rmi/sun.rmi.registry",
        "java.rmi/sun.rmi.server", "java.sql/java.sql", "jdk.unsupported/sun.misc",
        "jdk.attach/sun.tools.attach", "jdk.compiler/com.sun.tools.javac.file")),
    *(f"--add-opens=java.base/{p}=ALL-UNNAMED" for p in (
        "java.lang.module", "jdk.internal.loader", "jdk.internal.ref", "jdk.internal.reflect",
        "jdk.internal.math", "jdk.internal.module", "jdk.internal.util.jar", "sun.nio.ch",
        "java.io", "java.lang.reflect", "java.lang", "java.util", "java.nio")),
    "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens=jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
    "-Djdk.attach.allowAttachSelf=true", "-Xss256k", "-Djava.net.preferIPv4Stack=true",
    "-Dchronicle.analytics.disable=true", "-Dio.netty.tryReflectionSetAccessible=true",
]


def log(message: str) -> None:
    print(f"[cassandra-node] {message}", flush=True)


def port_open(host: str = HOST, port: int = NATIVE_PORT, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def running_pid() -> int | None:
    try:
        pid = int(PID_FILE.read_text().strip())
    except (OSError, ValueError):
        return None
    if not alive(pid):
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists() and b"CassandraDaemon" not in cmdline.read_bytes():
        return None  # the pid was reused by an unrelated process
    return pid


def resolve_jars() -> None:
    marker = LIB / ".complete"
    if marker.exists():
        return
    if shutil.which("mvn") is None:
        raise SystemExit("mvn not found: Maven is needed once to fetch the Cassandra jars")
    log("resolving cassandra-all and its dependencies with Maven (first start only)...")
    staging = HOME / "lib.partial"
    shutil.rmtree(staging, ignore_errors=True)
    cmd = ["mvn", "-q", "-B", "-f", str(HERE / "pom.xml"), "dependency:copy-dependencies",
           f"-DoutputDirectory={staging}"]
    if os.environ.get("CASSANDRA_VERSION"):
        cmd.append(f"-Dcassandra.version={os.environ['CASSANDRA_VERSION']}")
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"Maven could not resolve Cassandra:\n{result.stdout}\n{result.stderr}")
    shutil.rmtree(LIB, ignore_errors=True)
    staging.rename(LIB)
    marker.write_text(jar_version() + "\n")
    log(f"resolved cassandra-all {jar_version()} ({len(list(LIB.glob('*.jar')))} jars)")


def jar_version() -> str:
    jars = sorted(LIB.glob("cassandra-all-*.jar"))
    return jars[-1].name[len("cassandra-all-"):-len(".jar")] if jars else "?"


def write_config() -> Path:
    CONF.mkdir(parents=True, exist_ok=True)
    for sub in ("data", "commitlog", "saved_caches", "hints", "cdc_raw"):
        (DATA / sub).mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    text = (HERE / "cassandra.yaml.template").read_text()
    for key, value in {"@LISTEN@": HOST, "@NATIVE_PORT@": str(NATIVE_PORT),
                       "@STORAGE_PORT@": str(STORAGE_PORT), "@DATA@": str(DATA)}.items():
        text = text.replace(key, value)
    yaml_path = CONF / "cassandra.yaml"
    yaml_path.write_text(text)
    shutil.copy(HERE / "logback.xml", CONF / "logback.xml")
    return yaml_path


def java_command(yaml_path: Path) -> list[str]:
    heap_max = os.environ.get("CASSANDRA_HEAP_MAX", "2g")
    return [
        shutil.which("java") or "java", "-Xms512m", f"-Xmx{heap_max}", "-XX:+UseG1GC",
        "-XX:+HeapDumpOnOutOfMemoryError", f"-XX:HeapDumpPath={LOGS}",
        *JDK17_FLAGS,
        f"-Dcassandra.config=file://{yaml_path}", f"-Dcassandra.storagedir={DATA}",
        f"-Dcassandra.logdir={LOGS}", f"-Dlogback.configurationFile=file://{CONF / 'logback.xml'}",
        "-Dcassandra-foreground=yes", "-Dcassandra.skip_wait_for_gossip_to_settle=0",
        f"-Dcassandra.jmx.local.port={JMX_PORT}",
        "-cp", f"{LIB}/*", "org.apache.cassandra.service.CassandraDaemon",
    ]


def log_tail(lines: int = 40) -> str:
    out = []
    for name in ("system.log", "stdout.log"):
        path = LOGS / name
        if path.exists():
            out.append(f"--- {path} (last {lines} lines) ---")
            out.extend(path.read_text(errors="replace").splitlines()[-lines:])
    return "\n".join(out)


def server_version(timeout: float = 10.0) -> str | None:
    """Ask the node for its release_version over CQL (needs cassandra-driver)."""
    try:
        from cassandra.cluster import Cluster
    except ImportError:
        return None
    cluster = Cluster([HOST], port=NATIVE_PORT, connect_timeout=timeout)
    try:
        session = cluster.connect()
        row = session.execute("SELECT release_version FROM system.local", timeout=timeout).one()
        return row.release_version
    except Exception:  # noqa: BLE001 - any failure means "not answering yet"
        return None
    finally:
        cluster.shutdown()


def up() -> int:
    if os.environ.get("CASSANDRA_CONTACT_POINTS"):
        log(f"CASSANDRA_CONTACT_POINTS={os.environ['CASSANDRA_CONTACT_POINTS']}: using that cluster")
        return 0
    pid = running_pid()
    if pid is not None or port_open():
        version = server_version()
        log(f"already running (pid {pid or 'unknown'}), Cassandra {version or '?'} on {HOST}:{NATIVE_PORT}")
        return 0
    if shutil.which("java") is None:
        raise SystemExit("java not found: a JDK 11 or 17 is needed to run the local Cassandra node")
    HOME.mkdir(parents=True, exist_ok=True)
    resolve_jars()
    yaml_path = write_config()
    timeout = float(os.environ.get("CASSANDRA_START_TIMEOUT_S", "240"))
    log(f"starting Cassandra {jar_version()} on {HOST}:{NATIVE_PORT} (data in {DATA})")
    with open(LOGS / "stdout.log", "ab") as stdout:
        process = subprocess.Popen(java_command(yaml_path), stdout=stdout, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, cwd=HOME)
    PID_FILE.write_text(str(process.pid))
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            PID_FILE.unlink(missing_ok=True)
            log(f"Cassandra exited with code {process.returncode} during start-up\n{log_tail()}")
            return 1
        if port_open():
            version = server_version()
            if version:
                log(f"ready in {time.monotonic() - started:.0f}s: Cassandra {version} (pid {process.pid})")
                return 0
        time.sleep(1)
    log(f"Cassandra did not answer CQL within {timeout:.0f}s; stopping it\n{log_tail()}")
    down()
    return 1


def alive(pid: int) -> bool:
    """True while the process runs; a zombie (exited, not yet reaped) counts as gone."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False  # our own child, reaped just now
    except ChildProcessError:
        pass  # started by another process: nothing to reap
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_for_exit(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.25)
    return not alive(pid)


def nodetool(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    command = [shutil.which("java") or "java", *JDK17_FLAGS, f"-Dcassandra.logdir={LOGS}",
               f"-Duser.home={HOME}", "-cp", f"{LIB}/*", "org.apache.cassandra.tools.NodeTool",
               "-h", HOST, "-p", str(JMX_PORT), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def down() -> int:
    pid = running_pid()
    if pid is None:
        PID_FILE.unlink(missing_ok=True)
        log("not running")
        return 0
    # Drain first: replaying a commit log into a vector-indexed table at start-up can
    # fail in 5.0 (jvector's writer pool), so leave nothing to replay.
    log(f"draining pid {pid}...")
    try:
        drained = nodetool("drain")
        if drained.returncode != 0:
            log(f"drain failed (continuing with SIGTERM): {drained.stderr.strip()[-300:]}")
    except subprocess.TimeoutExpired:
        log("drain timed out; continuing with SIGTERM")
    log(f"stopping pid {pid}...")
    os.kill(pid, signal.SIGTERM)
    # After a drain nothing is left unflushed, so a JVM slow to exit can be killed.
    if not wait_for_exit(pid, 30):
        log("still alive 30s after SIGTERM (drained already); killing")
        os.kill(pid, signal.SIGKILL)
        wait_for_exit(pid, 10)
    PID_FILE.unlink(missing_ok=True)
    log("stopped")
    return 0


def status() -> int:
    pid = running_pid()
    answering = port_open()
    log(f"pid={pid or '-'} cql={'answering' if answering else 'down'} on {HOST}:{NATIVE_PORT}")
    return 0 if answering else 3


def main(argv: list[str]) -> int:
    commands = {"up": up, "down": down, "status": status,
                "version": lambda: print(server_version() or "unknown") or 0}
    if len(argv) != 2 or argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[argv[1]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
