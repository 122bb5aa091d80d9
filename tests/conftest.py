"""Where integration tests get their Cassandra 5.0 from, in this order:
1. CASSANDRA_CONTACT_POINTS (an existing cluster);
2. testcontainers' Cassandra module, when a Docker engine answers;
3. the local node of tools/cassandra/node.py (reused if already up, else started
   for this run and stopped at its end).
Each test module gets a fresh keyspace with the schema applied."""
from __future__ import annotations

import os
import re
import time
import uuid

import pytest

from killrvideo_reco.settings import Settings

_server: dict[str, str] = {}


def _load_node_tool():
    from tools.cassandra import node

    return node


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means no usable engine
        return False


@pytest.fixture(scope="session")
def cassandra_endpoint():
    """(host, port) of a Cassandra 5.0 node; fails, never skips, when none can be had."""
    if os.environ.get("CASSANDRA_CONTACT_POINTS"):
        _server["origin"] = "CASSANDRA_CONTACT_POINTS"
        yield os.environ["CASSANDRA_CONTACT_POINTS"], int(os.environ.get("CASSANDRA_PORT", "9042"))
        return
    if _docker_answers():
        from testcontainers.cassandra import CassandraContainer

        with CassandraContainer("cassandra:5.0") as container:
            _server["origin"] = "testcontainers cassandra:5.0"
            yield container.get_container_host_ip(), int(container.get_exposed_port(9042))
        return
    node = _load_node_tool()
    started_here = not node.port_open()
    if started_here and node.up() != 0:
        pytest.fail("could not start the local Cassandra node (see the log above)", pytrace=False)
    _server["origin"] = "local node from Maven jars" + (" (started for this run)" if started_here else "")
    _server["version"] = node.server_version() or "?"
    try:
        yield node.HOST, node.NATIVE_PORT
    finally:
        if started_here:
            node.down()


def settings_for(host: str, port: int, keyspace: str, **overrides) -> Settings:
    return Settings(cassandra_contact_points=host, cassandra_port=port,
                    cassandra_keyspace=keyspace, cassandra_request_timeout_s=10.0,
                    cassandra_write_consistency="ONE", cassandra_read_consistency="ONE",
                    embedding_provider="hashing", feed_cache_ttl_s=0.0, dev_mode=True,
                    **overrides)


@pytest.fixture(scope="module")
def cassandra(cassandra_endpoint, request):
    """A connected (settings, session) on a fresh keyspace with the schema applied."""
    from killrvideo_reco.store import schema
    from killrvideo_reco.store.connection import connect

    host, port = cassandra_endpoint
    name = re.sub(r"\W", "_", request.module.__name__.rsplit(".", 1)[-1])[:30]
    keyspace = f"t_{name}_{uuid.uuid4().hex[:6]}"
    settings = settings_for(host, port, keyspace)
    cluster, session = connect(settings)
    _server["version"] = session.execute("SELECT release_version FROM system.local").one().release_version
    schema.apply_migrations(session, settings)
    try:
        yield settings, session
    finally:
        _drop_keyspace(session, keyspace)
        cluster.shutdown()


def _drop_keyspace(session, keyspace: str, patience_s: float = 60.0) -> None:
    """Drop a test keyspace, waiting for the session to reconnect if the node was just
    restarted (the outage test does that)."""
    from cassandra.cluster import NoHostAvailable

    deadline = time.monotonic() + patience_s
    while True:
        try:
            session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=60)
            return
        except NoHostAvailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


@pytest.fixture(scope="module")
def api(cassandra):
    """An HTTP client on the real app, wired to this module's keyspace."""
    from fastapi.testclient import TestClient

    from killrvideo_reco.api.app import create_app

    settings, _ = cassandra
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def pytest_collection_modifyitems(items):
    # Tests that stop the node run last, so no other test sees the outage.
    items.sort(key=lambda item: item.get_closest_marker("outage") is not None)


def pytest_terminal_summary(terminalreporter):
    if _server:
        terminalreporter.write_line(
            f"Cassandra server used: {_server.get('version', '?')} via {_server.get('origin')}")
