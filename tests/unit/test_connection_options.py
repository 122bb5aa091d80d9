"""The driver's connections as store/connection.py opens them (no node needed: a Cluster
connects lazily)."""
from __future__ import annotations

import socket

from killrvideo_reco.settings import Settings
from killrvideo_reco.store.connection import build_cluster


def test_every_connection_turns_nagle_off_and_speaks_protocol_v4():
    """Without TCP_NODELAY a request sent in two segments waits for the node's delayed
    ACK (up to 40 ms): the view replay ran at 63 events/s instead of 242
    (docs/benchmarks.md, "The regression of 2026-12-04, explained")."""
    cluster = build_cluster(Settings(embedding_provider="hashing"))
    try:
        assert (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1) in cluster.sockopts
        assert cluster.protocol_version == 4
    finally:
        cluster.shutdown()


def test_row_factory_matches_the_drivers_and_reuses_its_classes():
    from cassandra.query import named_tuple_factory

    from killrvideo_reco.store.connection import cached_row_factory

    for columns in (["videoid", "views"], ["[applied]", "taste_version"],
                    ["system.count(videoid)"]):
        rows = [tuple(range(len(columns)))]
        ours, drivers = cached_row_factory(columns, rows), named_tuple_factory(columns, rows)
        assert ours == drivers and ours[0]._fields == drivers[0]._fields
        again = cached_row_factory(list(columns), rows)
        assert type(again[0]) is type(ours[0]), "one class per column list, not per result"
    assert cached_row_factory(["[applied]"], [(True,)])[0].applied is True
