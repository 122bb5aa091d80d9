"""One Cassandra 5.0 process from Maven Central's jars: the `Node` that both the development
node (node.py) and each node of the local cluster (cluster.py) are instances of.

A node owns a directory (conf/, data/, logs/, cassandra.pid), an address and its native,
storage and JMX ports; every node runs the same jars (jars.py: resolved once, into the
development node's lib/).
Standard library only: `make cassandra-down` runs this without the virtualenv.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tools.cassandra.jars import jar_version, resolve_jars

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TEMPLATE = HERE / "cassandra.yaml.template"
DATA_SUBDIRS = ("data", "commitlog", "saved_caches", "hints", "cdc_raw")

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


def dev_home(env=os.environ) -> Path:
    """The development node's directory; its lib/ holds the jars every node runs."""
    return Path(env.get("CASSANDRA_HOME_DIR", REPO / ".cassandra")).resolve()


def java() -> str:
    return shutil.which("java") or "java"


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


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


def render_yaml(template: str, settings: dict[str, str]) -> str:
    """The template with each top-level `key: value` of `settings` replaced (or appended)."""
    for key, value in settings.items():
        line = f"{key}: {value}"
        template, found = re.subn(rf"^{re.escape(key)}:.*$", line.replace("\\", r"\\"),
                                  template, flags=re.MULTILINE)
        if not found:
            template = template.rstrip("\n") + f"\n{line}\n"
    return template


def stdout_log(prefix: str) -> Callable[[str], None]:
    return lambda message: print(f"[{prefix}] {message}", flush=True)


def stderr_log(prefix: str) -> Callable[[str], None]:
    return lambda message: print(f"[{prefix}] {message}", file=sys.stderr, flush=True)


@dataclass
class Node:
    """One Cassandra process: its directory, address, ports, JVM and cassandra.yaml."""
    home: Path                       # conf/, data/, logs/ and cassandra.pid live here
    lib: Path                        # the jars (resolve_jars)
    host: str = "127.0.0.1"
    native_port: int = 9042
    storage_port: int = 7000
    jmx_port: int = 7199             # JMX listens on 127.0.0.1 whatever the host
    seeds: str = ""                  # default: this node's own address
    heap_min: str = "512m"
    heap_max: str = "2g"
    yaml: dict[str, str] = field(default_factory=dict)  # top-level cassandra.yaml overrides
    jvm_options: list[str] = field(default_factory=list)
    datacenter: str | None = None    # set: writes cassandra-rackdc.properties (GPFS)
    name: str = "node"
    log: Callable[[str], None] = print

    def __post_init__(self) -> None:
        self.conf, self.data, self.logs = (self.home / d for d in ("conf", "data", "logs"))
        self.pid_file = self.home / "cassandra.pid"

    @property
    def pid(self) -> int | None:
        """The running Cassandra process this node started, if any."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not alive(pid):
            return None
        cmdline = Path(f"/proc/{pid}/cmdline")
        try:
            if b"CassandraDaemon" not in cmdline.read_bytes():
                return None  # the pid was reused by an unrelated process
        except OSError:
            pass
        return pid

    def answering(self, timeout: float = 0.5) -> bool:
        """Does something accept connections on this node's native (CQL) port?"""
        return port_open(self.host, self.native_port, timeout)

    def write_config(self) -> Path:
        self.conf.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        for sub in DATA_SUBDIRS:
            (self.data / sub).mkdir(parents=True, exist_ok=True)
        text = TEMPLATE.read_text()
        for key, value in {"@SEEDS@": self.seeds or self.host, "@LISTEN@": self.host,
                           "@NATIVE_PORT@": str(self.native_port),
                           "@STORAGE_PORT@": str(self.storage_port),
                           "@DATA@": str(self.data)}.items():
            text = text.replace(key, value)
        yaml_path = self.conf / "cassandra.yaml"
        yaml_path.write_text(render_yaml(text, self.yaml))
        shutil.copy(HERE / "logback.xml", self.conf / "logback.xml")
        if self.datacenter:
            (self.conf / "cassandra-rackdc.properties").write_text(
                f"dc={self.datacenter}\nrack=rack1\n")
        return yaml_path

    def java_command(self, yaml_path: Path) -> list[str]:
        rackdc = ([f"-Dcassandra-rackdc.properties=file://{self.conf / 'cassandra-rackdc.properties'}"]
                  if self.datacenter else [])
        return [
            java(), f"-Xms{self.heap_min}", f"-Xmx{self.heap_max}", *self.jvm_options,
            "-XX:+UseG1GC", "-XX:+HeapDumpOnOutOfMemoryError", f"-XX:HeapDumpPath={self.logs}",
            *JDK17_FLAGS,
            f"-Dcassandra.config=file://{yaml_path}", f"-Dcassandra.storagedir={self.data}",
            f"-Dcassandra.logdir={self.logs}",
            f"-Dlogback.configurationFile=file://{self.conf / 'logback.xml'}",
            "-Dcassandra-foreground=yes", "-Dcassandra.skip_wait_for_gossip_to_settle=0",
            f"-Dcassandra.jmx.local.port={self.jmx_port}", *rackdc,
            "-cp", f"{self.lib}/*", "org.apache.cassandra.service.CassandraDaemon",
        ]

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for name in ("system.log", "stdout.log"):
            path = self.logs / name
            if path.exists():
                out.append(f"--- {path} (last {lines} lines) ---")
                out.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(out)

    def start(self, timeout: float = 240.0, ready: Callable[[], object] | None = None,
              clean_stop_on_timeout: bool = False) -> int:
        """Spawn the JVM and wait until the native port answers and `ready()`, if given,
        returns something true (a str is logged, e.g. the server's version). 0 when ready
        (or already running); 1, with the log's tail, when it exits or does not answer in
        time (then it is stopped: drained if clean_stop_on_timeout, else killed)."""
        if self.pid is not None or self.answering():
            self.log(f"{self.name} already running (pid {self.pid or 'unknown'}) on "
                     f"{self.host}:{self.native_port}")
            return 0
        if shutil.which("java") is None:
            raise SystemExit("java not found: a JDK 11 or 17 is needed to run Cassandra")
        self.home.mkdir(parents=True, exist_ok=True)
        resolve_jars(self.lib, self.log)
        yaml_path = self.write_config()
        self.log(f"starting {self.name}: Cassandra {jar_version(self.lib)} on "
                 f"{self.host}:{self.native_port} (data in {self.data})")
        with open(self.logs / "stdout.log", "ab") as stdout:
            process = subprocess.Popen(self.java_command(yaml_path), stdout=stdout,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True, cwd=self.home)
        self.pid_file.write_text(str(process.pid))
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if process.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                self.log(f"{self.name} exited with code {process.returncode} during start-up\n"
                         f"{self.log_tail()}")
                return 1
            answer = self.answering() and (ready is None or ready())
            if answer:
                self.log(f"{self.name} ready on {self.host}:{self.native_port} in "
                         f"{time.monotonic() - started:.0f}s (pid {process.pid})"
                         + (f": Cassandra {answer}" if isinstance(answer, str) else ""))
                return 0
            time.sleep(1)
        self.log(f"{self.name} did not answer within {timeout:.0f}s; stopping it\n{self.log_tail()}")
        if clean_stop_on_timeout:
            self.stop()
        else:
            self.kill()
        return 1

    def nodetool(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        command = [java(), *JDK17_FLAGS, f"-Dcassandra.logdir={self.logs}",
                   f"-Duser.home={self.home}", "-cp", f"{self.lib}/*",
                   "org.apache.cassandra.tools.NodeTool", "-h", "127.0.0.1",
                   "-p", str(self.jmx_port), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=False)

    def stop(self) -> int:
        """Drain (nothing left to replay), SIGTERM, and SIGKILL if still alive 30 s later."""
        pid = self.pid
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            self.log(f"{self.name} not running")
            return 0
        # Replaying a commit log into a vector-indexed table at start-up can fail in 5.0
        # (jvector's writer pool), so leave nothing to replay.
        self.log(f"draining {self.name} (pid {pid})...")
        try:
            drained = self.nodetool("drain")
            if drained.returncode != 0:
                self.log(f"drain failed (continuing with SIGTERM): {drained.stderr.strip()[-300:]}")
        except subprocess.TimeoutExpired:
            self.log("drain timed out; continuing with SIGTERM")
        os.kill(pid, signal.SIGTERM)
        # After a drain nothing is left unflushed, so a JVM slow to exit can be killed.
        if not wait_for_exit(pid, 30):
            self.log("still alive 30s after SIGTERM (drained already); killing")
            os.kill(pid, signal.SIGKILL)
            wait_for_exit(pid, 10)
        self.pid_file.unlink(missing_ok=True)
        self.log(f"{self.name} stopped")
        return 0

    def kill(self) -> int:
        """kill -9: no drain, no flush (the commit log is replayed at the next start);
        returns once the native port is closed. 1 if no process of ours runs."""
        pid = self.pid
        if pid is None:
            self.log(f"{self.name}: no process of ours to kill" + (
                " (something else answers on its address)" if self.answering() else ""))
            return 1
        os.kill(pid, signal.SIGKILL)
        if wait_for_exit(pid, 20):
            self.pid_file.unlink(missing_ok=True)
        # The JVM's main thread turns zombie before its other threads have closed the sockets.
        deadline = time.monotonic() + 20
        while self.answering() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.log(f"{self.name} killed (pid {pid})")
        return 0

