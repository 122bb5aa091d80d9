"""Builds the driver Cluster/Session from Settings. The only place that knows
how we talk to Cassandra: load balancing, consistency and timeouts."""
from __future__ import annotations

import logging
import socket
from collections import namedtuple
from functools import lru_cache

from cassandra import ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.policies import (
    DCAwareRoundRobinPolicy,
    ExponentialReconnectionPolicy,
    RetryPolicy,
    TokenAwarePolicy,
)
from cassandra.query import _clean_column_name

from killrvideo_reco.settings import Settings
from killrvideo_reco.store.uuid_codec import install_shared_uuid_decoder
from killrvideo_reco.store.vector_codec import install_numpy_vector_codec

log = logging.getLogger(__name__)

LOCAL_DEV_HOST = "127.0.0.1"
# Driver execution profiles (how a statement runs), not taste profiles.
WRITE_EXECUTION = "write"


def consistency(name: str) -> int:
    return getattr(ConsistencyLevel, name)


# Builds a named-tuple row from a row tuple without its generated __new__ (store modules).
tuple_new = tuple.__new__


@lru_cache(maxsize=512)
def _row_class(columns: tuple[str, ...]):
    """One class per column list. Names that are not identifiers (the `[applied]` of every
    conditional write, a function call) are cleaned as the driver's own factory does."""
    try:
        return namedtuple("Row", columns)
    except ValueError:
        return namedtuple("Row", [_clean_column_name(c) for c in columns], rename=True)


def cached_row_factory(columns, rows):
    """The driver's named-tuple rows, without building a new namedtuple class for every
    result (a conditional write's result alone was about 6% of the driver thread)."""
    row_class = _row_class(tuple(columns))
    # tuple.__new__ directly: the class's own __new__ is a Python lambda, a frame per row.
    return [tuple_new(row_class, row) for row in rows]


def prepare(session: Session, cql: str):
    """Prepare once; reads are marked idempotent, so when a node dies with a read in
    flight the driver retries it on another replica instead of failing the request."""
    statement = session.prepare(cql)
    statement.is_idempotent = cql.lstrip().upper().startswith("SELECT")
    return statement


class ReadRetryPolicy(RetryPolicy):
    """The driver's default, plus: an idempotent read that timed out or found too few
    replicas is retried up to 4 times on the next coordinator. Right after a node dies, reads
    routed to it time out until the failure detector convicts it; ANN queries are range
    reads, which Cassandra's own speculative retry does not cover."""

    def on_read_timeout(self, query, consistency, required_responses, received_responses,
                        data_retrieved, retry_num):
        return self._next_host(retry_num, query) or super().on_read_timeout(
            query, consistency, required_responses, received_responses, data_retrieved,
            retry_num)

    def on_unavailable(self, query, consistency, required_replicas, alive_replicas, retry_num):
        return self._next_host(retry_num, query) or super().on_unavailable(
            query, consistency, required_replicas, alive_replicas, retry_num)

    def _next_host(self, retry_num: int, query):
        if retry_num < 4 and getattr(query, "is_idempotent", False):
            return self.RETRY_NEXT_HOST, None
        return None


def build_cluster(settings: Settings) -> Cluster:
    install_numpy_vector_codec()
    install_shared_uuid_decoder()
    hosts = settings.contact_points or [LOCAL_DEV_HOST]
    balancing = TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=settings.cassandra_local_dc))
    read_profile = ExecutionProfile(
        load_balancing_policy=balancing,
        consistency_level=consistency(settings.cassandra_read_consistency),
        request_timeout=settings.cassandra_request_timeout_s,
        row_factory=cached_row_factory,
        retry_policy=ReadRetryPolicy(),
    )
    write_profile = ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(
            DCAwareRoundRobinPolicy(local_dc=settings.cassandra_local_dc)),
        consistency_level=consistency(settings.cassandra_write_consistency),
        serial_consistency_level=ConsistencyLevel.LOCAL_SERIAL,
        request_timeout=settings.cassandra_request_timeout_s,
        row_factory=cached_row_factory,
        retry_policy=ReadRetryPolicy(),  # the for-update reads run here too
    )
    auth = None
    if settings.cassandra_username:
        auth = PlainTextAuthProvider(settings.cassandra_username, settings.cassandra_password)
    return Cluster(
        hosts,
        port=settings.cassandra_port,
        execution_profiles={EXEC_PROFILE_DEFAULT: read_profile, WRITE_EXECUTION: write_profile},
        auth_provider=auth,
        connect_timeout=settings.cassandra_connect_timeout_s,
        # v4, not v5: v5 checksums every frame, in pure Python on the driver's side (5% of
        # the view path's CPU) and again on the node; loopback and TCP already check.
        protocol_version=4,
        # After each DDL statement, wait (up to a minute) until every node has the new
        # schema: a multi-node `make schema` must not leave a node that cannot serve it.
        max_schema_agreement_wait=60,
        # Notice a dead node within seconds, and retry at most every 10 s (the driver's
        # default backs off to 10 minutes), so the service recovers soon after an outage.
        idle_heartbeat_interval=5,
        reconnection_policy=ExponentialReconnectionPolicy(base_delay=0.5, max_delay=10.0),
        # The driver leaves Nagle's algorithm on. A request written in two segments then
        # waits for the node's delayed ACK (40 ms on Linux) before its second part: at
        # concurrency 16 the view replay ran at 63 events/s without this, 242 with it.
        sockopts=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
    )


def connect(settings: Settings) -> tuple[Cluster, Session]:
    cluster = build_cluster(settings)
    session = cluster.connect()
    log.info("connected to Cassandra %s (hosts %s)",
             session.execute("SELECT release_version FROM system.local").one().release_version,
             settings.contact_points or [LOCAL_DEV_HOST])
    return cluster, session


class Database:
    """An open connection to the cluster; the stores are built on its session."""

    def __init__(self, settings: Settings):
        self.keyspace = settings.cassandra_keyspace
        self.cluster, self.session = connect(settings)

    def close(self) -> None:
        self.cluster.shutdown()
