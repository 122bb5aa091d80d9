"""A local three-node Cassandra 5.0 cluster on 127.0.0.1-3, from the same Maven jars as
the single development node (tools/cassandra/node.py), laid out as ccm would. Each node
is a `Node` (process.py), like the development node.

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

import os
import sys
import time
from pathlib import Path
from typing import NamedTuple

if __package__ in (None, ""):  # run as a script: make `tools.cassandra` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.cassandra.process import REPO, Node, dev_home, stderr_log

HOME = Path(os.environ.get("CASSANDRA_CLUSTER_DIR", REPO / ".cassandra-cluster")).resolve()
NODES = 3
NATIVE_PORT, STORAGE_PORT = 19042, 17000
DATACENTER = "datacenter1"  # in cassandra-rackdc.properties; NetworkTopologyStrategy names it
CONTACT_POINTS = ",".join(f"127.0.0.{n}" for n in range(1, NODES + 1))
REPLICATION = f"NetworkTopologyStrategy:{DATACENTER}={NODES}"

log = stderr_log("cassandra-cluster")


def host(n: int) -> str:
    return f"127.0.0.{n}"


def directory(n: int, home: Path = HOME) -> Path:
    return home / f"node{n}"


def jmx_port(n: int) -> int:
    return 17100 + n


def token(n: int) -> int:
    return -(2 ** 63) + (n - 1) * (2 ** 64 // NODES)


def cluster_node(n: int, home: Path = HOME, env=os.environ) -> Node:
    """Node n of the cluster: the dev node's jars, its own directory, address and JMX port."""
    heap = env.get("CASSANDRA_CLUSTER_HEAP_MAX", "768m")
    return Node(
        home=directory(n, home), lib=dev_home(env) / "lib", host=host(n),
        native_port=NATIVE_PORT, storage_port=STORAGE_PORT, jmx_port=jmx_port(n),
        seeds=f"{host(1)}:{STORAGE_PORT}", heap_min=heap, heap_max=heap,
        jvm_options=["-Xmn128m", "-XX:ActiveProcessorCount=2", "-Dcassandra.ring_delay_ms=3000"],
        yaml={
            "cluster_name": "killrvideo-reco-cluster", "initial_token": str(token(n)),
            # A read routed to a dead node fails after the read timeout, then the driver
            # retries it elsewhere: keep that short, and convict a dead node sooner than
            # the default (8).
            "read_request_timeout": "2000ms", "range_request_timeout": "2000ms",
            "phi_convict_threshold": "5",
            # A coordinator reads and leads counter writes on itself when it is a replica
            # (GPFS sorts the local node first; SimpleSnitch does not), so with RF=3 a node
            # that just died is only in the path of requests it coordinated, which the
            # driver retries.
            "endpoint_snitch": "GossipingPropertyFileSnitch", "dynamic_snitch": "true",
            # A new, empty cluster has nothing to stream: join at once, no bootstrapping.
            "auto_bootstrap": "false",
        },
        datacenter=DATACENTER, name=f"node{n}", log=log)


def pid_of(n: int) -> int | None:
    return cluster_node(n).pid


def answering(n: int, timeout: float = 0.5) -> bool:
    return cluster_node(n).answering(timeout)


def start(n: int, timeout: float | None = None) -> int:
    timeout = timeout or float(os.environ.get("CASSANDRA_START_TIMEOUT_S", "240"))
    return cluster_node(n).start(timeout)


def kill(n: int) -> int:
    """kill -9: no drain, no flush; the commit log is replayed at the next start."""
    return cluster_node(n).kill()


def stop(n: int) -> int:
    return cluster_node(n).stop()


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
