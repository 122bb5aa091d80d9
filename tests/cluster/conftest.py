"""The three-node cluster of tools/cassandra/cluster.py, for `make test-cluster` only.

Collected only when KILLRVIDEO_CLUSTER_TESTS=1 (the make target sets it), so plain
`make test` never starts three nodes. The cluster is started if it is not up, and stopped
at the end if this run started it."""
from __future__ import annotations

import os
import uuid
import warnings

import numpy as np
import pytest

from killrvideo_reco.settings import Settings
from killrvideo_reco.store.errors import TRANSIENT_ERRORS

if os.environ.get("KILLRVIDEO_CLUSTER_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def cluster_tool():
    from tools.cassandra import cluster as tool

    started_here = not all(tool.answering(n) for n in range(1, tool.NODES + 1))
    if not started_here and any(tool.pid_of(n) is None for n in range(1, tool.NODES + 1)):
        pytest.fail(f"a cluster this checkout did not start answers on port {tool.NATIVE_PORT}; "
                    "stop it first (its node cannot be killed from here)", pytrace=False)
    if started_here and tool.up() != 0:
        pytest.fail("could not start the 3-node cluster (see the log above)", pytrace=False)
    if not tool.settled():
        pytest.fail("the cluster's nodes do not all see each other up (see the log above)",
                    pytrace=False)
    try:
        yield tool
    finally:
        if started_here:
            tool.down()


@pytest.fixture(scope="session")
def cluster_settings(cluster_tool):
    """A fresh keyspace, RF=3 with NetworkTopologyStrategy, schema applied."""
    from killrvideo_reco.store import schema
    from killrvideo_reco.store.connection import connect

    settings = Settings(
        cassandra_contact_points=cluster_tool.CONTACT_POINTS,
        cassandra_port=cluster_tool.NATIVE_PORT, cassandra_local_dc=cluster_tool.DATACENTER,
        cassandra_keyspace=f"cluster_{uuid.uuid4().hex[:8]}",
        cassandra_replication=cluster_tool.REPLICATION, cassandra_request_timeout_s=10.0,
        embedding_provider="hashing", dev_mode=True)
    cluster, session = connect(settings)
    try:
        # A node restarted by an earlier run may still be catching up with the schema.
        cluster.control_connection.wait_for_schema_agreement(wait_time=120)
        schema.apply_migrations(session, settings)
        assert schema.wait_for_every_node(session), "the nodes did not agree on the schema"
        yield settings, session
        try:
            session.execute(f"DROP KEYSPACE IF EXISTS {settings.cassandra_keyspace}", timeout=120)
        except TRANSIENT_ERRORS as error:  # a throwaway keyspace; the result stands
            warnings.warn(f"could not drop {settings.cassandra_keyspace}: {error!r}", stacklevel=2)
    finally:
        cluster.shutdown()


@pytest.fixture(scope="session")
def catalogue(cluster_settings):
    """300 videos in 6 topics, added through the store."""
    from tests.integration.seeding import add_videos, cluster_vectors

    settings, session = cluster_settings
    rng = np.random.default_rng(12)
    vectors = []
    for _ in range(6):
        vectors += cluster_vectors(rng, rng.normal(size=384), 50)
    return add_videos(settings, session, vectors)
