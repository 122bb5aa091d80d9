"""A local three-node Cassandra 5.0 cluster on 127.0.0.1-3, from the same Maven jars as
the single development node (tools/cassandra/node.py), as ccm lays one out.

Usage: python tools/cassandra/cluster.py up|down|status|settle|kill N|start N

Each node has its own directory (.cassandra-cluster/nodeN/{conf,data,logs}), address
127.0.0.N and JMX port; all share the CQL port 19042 and the storage port 17000, which
differ from the development node's (9042/7000), so both can run at once. One token per
node, evenly spaced, so the ring is balanced from the start. Heaps are bounded
(CASSANDRA_CLUSTER_HEAP_MAX, default 768m) so three nodes fit beside the dev node.
`kill N` is kill -9, for failure tests; `start N` brings that node back; `settle` waits
until every node sees every other one up, on one schema.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("cassandra_node", HERE / "node.py")
node = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(node)

HOME = Path(os.environ.get("CASSANDRA_CLUSTER_DIR", node.REPO / ".cassandra-cluster")).resolve()
NODES = 3
NATIVE_PORT, STORAGE_PORT = 19042, 17000
DATACENTER = "datacenter1"  # in cassandra-rackdc.properties; NetworkTopologyStrategy names it
CONTACT_POINTS = ",".join(f"127.0.0.{n}" for n in range(1, NODES + 1))
REPLICATION = f"NetworkTopologyStrategy:{DATACENTER}={NODES}"


def log(message: str) -> None:
    print(f"[cassandra-cluster] {message}", file=sys.stderr, flush=True)


def host(n: int) -> str:
    return f"127.0.0.{n}"


def directory(n: int) -> Path:
    return HOME / f"node{n}"


def jmx_port(n: int) -> int:
    return 17100 + n


def token(n: int) -> int:
    return -(2 ** 63) + (n - 1) * (2 ** 64 // NODES)


def pid_of(n: int) -> int | None:
    path = directory(n) / "cassandra.pid"
    try:
        pid = int(path.read_text())
    except (OSError, ValueError):
        return None
    return pid if node.alive(pid) else None


def answering(n: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host(n), NATIVE_PORT), timeout=timeout):
            return True
    except OSError:
        return False


def write_config(n: int) -> Path:
    conf, data, logs = (directory(n) / d for d in ("conf", "data", "logs"))
    conf.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    for sub in ("data", "commitlog", "saved_caches", "hints", "cdc_raw"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    text = (HERE / "cassandra.yaml.template").read_text()
    for key, value in {"@LISTEN@": host(n), "@NATIVE_PORT@": str(NATIVE_PORT),
                       "@STORAGE_PORT@": str(STORAGE_PORT), "@DATA@": str(data)}.items():
        text = text.replace(key, value)
    text = (text.replace("cluster_name: killrvideo-reco-dev", "cluster_name: killrvideo-reco-cluster")
                .replace("initial_token: 0", f"initial_token: {token(n)}")
                .replace(f'- seeds: "{host(n)}"', f'- seeds: "{host(1)}:{STORAGE_PORT}"'))
    # A read routed to a dead node fails after the read timeout, then the driver retries it
    # elsewhere: keep that short, and convict a dead node sooner than the default (8).
    text = (text.replace("read_request_timeout: 5000ms", "read_request_timeout: 2000ms")
                .replace("range_request_timeout: 10000ms", "range_request_timeout: 2000ms"))
    # A coordinator reads and leads counter writes on itself when it is a replica (GPFS
    # sorts the local node first; SimpleSnitch does not), so with RF=3 a node that just
    # died is only in the path of requests it coordinated, which the driver retries.
    text = (text.replace("endpoint_snitch: SimpleSnitch",
                         "endpoint_snitch: GossipingPropertyFileSnitch")
                .replace("dynamic_snitch: false", "dynamic_snitch: true"))
    (conf / "cassandra-rackdc.properties").write_text(f"dc={DATACENTER}\nrack=rack1\n")
    # A new, empty cluster has nothing to stream: join at once instead of bootstrapping.
    text += "\nauto_bootstrap: false\nphi_convict_threshold: 5\n"
    path = conf / "cassandra.yaml"
    path.write_text(text)
    (conf / "logback.xml").write_text((HERE / "logback.xml").read_text())
    return path


def java_command(n: int, yaml_path: Path) -> list[str]:
    heap = os.environ.get("CASSANDRA_CLUSTER_HEAP_MAX", "768m")
    data, logs, conf = (directory(n) / d for d in ("data", "logs", "conf"))
    return [
        node.shutil.which("java") or "java", f"-Xms{heap}", f"-Xmx{heap}", "-Xmn128m",
        "-XX:+UseG1GC", "-XX:+HeapDumpOnOutOfMemoryError", f"-XX:HeapDumpPath={logs}",
        "-XX:ActiveProcessorCount=2", *node.JDK17_FLAGS,
        f"-Dcassandra.config=file://{yaml_path}", f"-Dcassandra.storagedir={data}",
        f"-Dcassandra.logdir={logs}", f"-Dlogback.configurationFile=file://{conf / 'logback.xml'}",
        "-Dcassandra-foreground=yes", "-Dcassandra.skip_wait_for_gossip_to_settle=0",
        "-Dcassandra.ring_delay_ms=3000", f"-Dcassandra.jmx.local.port={jmx_port(n)}",
        f"-Dcassandra-rackdc.properties=file://{conf / 'cassandra-rackdc.properties'}",
        "-cp", f"{node.LIB}/*", "org.apache.cassandra.service.CassandraDaemon",
    ]


def start(n: int, timeout: float | None = None) -> int:
    if pid_of(n) is not None or answering(n):
        log(f"node{n} already running on {host(n)}:{NATIVE_PORT}")
        return 0
    node.HOME.mkdir(parents=True, exist_ok=True)
    node.resolve_jars()
    yaml_path = write_config(n)
    timeout = timeout or float(os.environ.get("CASSANDRA_START_TIMEOUT_S", "240"))
    logs = directory(n) / "logs"
    with open(logs / "stdout.log", "ab") as stdout:
        process = subprocess.Popen(java_command(n, yaml_path), stdout=stdout,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, cwd=directory(n))
    (directory(n) / "cassandra.pid").write_text(str(process.pid))
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            log(f"node{n} exited with code {process.returncode}:\n{tail(n)}")
            return 1
        if answering(n):
            log(f"node{n} ready on {host(n)}:{NATIVE_PORT} in {time.monotonic() - started:.0f}s "
                f"(pid {process.pid})")
            return 0
        time.sleep(1)
    log(f"node{n} did not answer within {timeout:.0f}s; killing it\n{tail(n)}")
    kill(n)
    return 1


def tail(n: int, lines: int = 30) -> str:
    path = directory(n) / "logs" / "system.log"
    if not path.exists():
        path = directory(n) / "logs" / "stdout.log"
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def kill(n: int) -> int:
    """kill -9: no drain, no flush; the commit log is replayed at the next start."""
    pid = pid_of(n)
    if pid is None:
        log(f"node{n}: no process of ours to kill" + (" (something else answers on its "
            "address: another cluster?)" if answering(n) else ""))
        return 1
    os.kill(pid, signal.SIGKILL)
    node.wait_for_exit(pid, 20)
    # The JVM's main thread turns zombie before its other threads have closed the sockets.
    deadline = time.monotonic() + 20
    while answering(n) and time.monotonic() < deadline:
        time.sleep(0.1)
    log(f"node{n} killed (pid {pid})")
    return 0


def stop(n: int) -> int:
    pid = pid_of(n)
    if pid is None:
        return 0
    command = [node.shutil.which("java") or "java", *node.JDK17_FLAGS,
               f"-Dcassandra.logdir={directory(n) / 'logs'}", "-cp", f"{node.LIB}/*",
               "org.apache.cassandra.tools.NodeTool", "-h", "127.0.0.1", "-p", str(jmx_port(n)),
               "drain"]
    try:
        subprocess.run(command, capture_output=True, timeout=90)
    except subprocess.TimeoutExpired:
        log(f"node{n}: drain timed out; stopping anyway")
    os.kill(pid, signal.SIGTERM)
    if not node.wait_for_exit(pid, 30):
        os.kill(pid, signal.SIGKILL)
        node.wait_for_exit(pid, 10)
    log(f"node{n} stopped")
    return 0


class PeerState(NamedTuple):
    generation: int
    status: str
    rpc_ready: str
    schema: str


def gossip_views() -> dict[str, dict[str, PeerState] | None]:
    """Each answering node's gossip view of every node, or None if it cannot tell yet.
    Needs the driver (the venv's python)."""
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import WhiteListRoundRobinPolicy

    views = {}
    for n in [n for n in range(1, NODES + 1) if answering(n)]:
        only_n = ExecutionProfile(load_balancing_policy=WhiteListRoundRobinPolicy([host(n)]))
        cluster = Cluster([host(n)], port=NATIVE_PORT, protocol_version=4, connect_timeout=5,
                          execution_profiles={EXEC_PROFILE_DEFAULT: only_n})
        try:
            rows = cluster.connect().execute("SELECT address, generation, status_with_port, "
                                             "rpc_ready, \"schema\" FROM system_views.gossip_info",
                                             timeout=10)
            views[host(n)] = {r.address: PeerState(r.generation,
                                                   (r.status_with_port or "").split(",")[0],
                                                   r.rpc_ready, r.schema) for r in rows}
        except Exception as error:  # noqa: BLE001 - a node still starting has no view yet
            log(f"node{n}: no gossip view yet ({error})")
            views[host(n)] = None
        finally:
            cluster.shutdown()
    return views


def agreed(views: dict[str, dict[str, PeerState] | None]) -> bool:
    """Every node answers, sees each node as that node sees itself, and all are NORMAL,
    serving CQL, on one schema."""
    if len(views) != NODES or None in views.values():
        return False
    own = {node: view.get(node) for node, view in views.items()}
    return (all(view == own for view in views.values())
            and all(s.status == "NORMAL" and s.rpc_ready == "true" for s in own.values())
            and len({s.schema for s in own.values()}) == 1)


def settled(timeout: float = 180.0) -> bool:
    """Until the nodes agree (`agreed`). A node answering CQL is not enough: right after
    it starts, its peers may not yet route to it, and DDL then sees too few nodes."""
    started = time.monotonic()
    while True:
        views = gossip_views()
        if agreed(views):
            log(f"ring settled in {time.monotonic() - started:.0f}s: every node sees "
                f"{NODES} nodes up, one schema")
            return True
        if time.monotonic() - started > timeout:
            log(f"ring not settled after {timeout:.0f}s: {views}")
            return False
        time.sleep(2)


def up() -> int:
    for n in range(1, NODES + 1):  # one after another: a node joins a ring that is up
        if start(n) != 0:
            return 1
    if not settled():
        return 1
    log(f"cluster up: contact points {CONTACT_POINTS}, port {NATIVE_PORT}, "
        f"replication {REPLICATION}")
    return 0


def down() -> int:
    for n in range(NODES, 0, -1):
        stop(n)
    return 0


def status() -> int:
    states = [(n, pid_of(n), answering(n)) for n in range(1, NODES + 1)]
    for n, pid, ok in states:
        log(f"node{n} {host(n)}:{NATIVE_PORT} pid={pid or '-'} cql={'up' if ok else 'down'}")
    return 0 if all(ok for *_, ok in states) else 3


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[1] in ("up", "down", "status", "settle"):
        return {"up": up, "down": down, "status": status,
                "settle": lambda: 0 if settled() else 1}[argv[1]]()
    if len(argv) == 3 and argv[1] in ("kill", "start") and argv[2] in {"1", "2", "3"}:
        return {"kill": kill, "start": start}[argv[1]](int(argv[2]))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
