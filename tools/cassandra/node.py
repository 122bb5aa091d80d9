"""A local single-node Cassandra 5.0 from Maven Central's jars, for development and tests.

Usage: python tools/cassandra/node.py up|down|status|version

No Docker needed: the server jars are resolved once with Maven into .cassandra/lib
(git-ignored, reused by later starts); config, logs and data live in .cassandra/ too.
Settings (environment): CASSANDRA_HOME_DIR (default <repo>/.cassandra),
CASSANDRA_VERSION (default: newest 5.0.x), CASSANDRA_HEAP_MAX (default 2g),
CASSANDRA_START_TIMEOUT_S (default 240), CASSANDRA_PORT (default 9042; the storage and
JMX ports follow it: 7000 and 7199 for 9042).

The node is a `Node` (process.py), as each node of the local cluster (cluster.py) is.
Importable as tools.cassandra.node; standard library only (the driver is used, when
installed, to ask the server its version).
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `tools.cassandra` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.cassandra.process import Node, dev_home, stdout_log
from tools.cassandra.process import port_open as _port_open

log = stdout_log("cassandra-node")


def dev_node(env=os.environ) -> Node:
    """The development node the environment describes (see the module docstring)."""
    home = dev_home(env)
    native_port = int(env.get("CASSANDRA_PORT", "9042"))
    return Node(home=home, lib=home / "lib", host="127.0.0.1", native_port=native_port,
                storage_port=native_port - 9042 + 7000, jmx_port=native_port - 9042 + 7199,
                heap_min="512m", heap_max=env.get("CASSANDRA_HEAP_MAX", "2g"),
                name="Cassandra", log=log)


NODE = dev_node()
HOME, LIB, HOST = NODE.home, NODE.lib, NODE.host
NATIVE_PORT, STORAGE_PORT, JMX_PORT = NODE.native_port, NODE.storage_port, NODE.jmx_port


def port_open(host: str = HOST, port: int = NATIVE_PORT, timeout: float = 0.5) -> bool:
    return _port_open(host, port, timeout)


def running_pid() -> int | None:
    return NODE.pid


def nodetool(*args: str, timeout: float = 120):
    return NODE.nodetool(*args, timeout=timeout)


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


def ready() -> str | bool:
    """The server's version once it answers CQL; without the driver (the system python),
    the open native port is all there is to check."""
    if importlib.util.find_spec("cassandra") is None:
        return True
    return server_version() or False


def up() -> int:
    if os.environ.get("CASSANDRA_CONTACT_POINTS"):
        log(f"CASSANDRA_CONTACT_POINTS={os.environ['CASSANDRA_CONTACT_POINTS']}: using that cluster")
        return 0
    pid = NODE.pid
    if pid is not None or NODE.answering():
        version = server_version()
        log(f"already running (pid {pid or 'unknown'}), Cassandra {version or '?'} on {HOST}:{NATIVE_PORT}")
        return 0
    timeout = float(os.environ.get("CASSANDRA_START_TIMEOUT_S", "240"))
    # Ready once it answers CQL; drained, not killed, if it never does.
    return NODE.start(timeout, ready=ready, clean_stop_on_timeout=True)


def down() -> int:
    return NODE.stop()


def status() -> int:
    pid, answering = NODE.pid, NODE.answering()
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
