"""Node loss under load (`make test-cluster`): two service processes share the 3-node
cluster (RF=3); mid-load one Cassandra node is killed with SIGKILL, later restarted.

Expected: no feed request fails; every acknowledged view is in its history row exactly
once (read at LOCAL_QUORUM after recovery); the view counters are off by at most the
events that had to be retried (Cassandra counters are not idempotent), and after the
recount (`make recount`'s code) every viewed video's counter equals its acknowledged
events exactly; every online profile equals a rebuild from history."""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter

import numpy as np
from cassandra import ConsistencyLevel
from cassandra.query import SimpleStatement

from bench.server import Server
from killrvideo_reco.auth import mint
from killrvideo_reco.bootstrap import build_resources, profile_params
from killrvideo_reco.embeddings.factory import build_provider
from killrvideo_reco.jobs.recount import recount_views
from killrvideo_reco.retries import retry_transient
from killrvideo_reco.store.aio import execute
from killrvideo_reco.store.view_counts import ViewCountStore
from tests.cluster.load import Ledger, run_load

VIEWERS, WORKERS, MAX_EVENTS = 40, 12, 4000
STEADY_S, DOWN_S, AFTER_S = 15.0, 25.0, 15.0
VICTIM = 3


def test_a_node_killed_mid_load_loses_nothing(cluster_tool, cluster_settings, catalogue):
    settings, session = cluster_settings
    env = {"CASSANDRA_CONTACT_POINTS": settings.cassandra_contact_points,
           "CASSANDRA_PORT": str(settings.cassandra_port),
           "CASSANDRA_LOCAL_DC": settings.cassandra_local_dc,
           "CASSANDRA_REPLICATION": settings.cassandra_replication,
           "CASSANDRA_REQUEST_TIMEOUT_S": "8", "REQUEST_DEADLINE_S": "20"}
    viewers = [uuid.uuid4() for _ in range(VIEWERS)]
    tokens = {v: f"Bearer {mint(settings, v, ['viewer'])}" for v in viewers}
    ledger, timeline = Ledger(), {}
    with Server(settings.cassandra_keyspace, extra_env=env) as a, \
            Server(settings.cassandra_keyspace, extra_env=env) as b:
        async def scenario() -> None:
            stop = asyncio.Event()
            load = asyncio.create_task(run_load([a.base_url, b.base_url], tokens, catalogue,
                                                ledger, stop, WORKERS, MAX_EVENTS))
            started = time.monotonic()
            await asyncio.sleep(STEADY_S)
            ledger.phase = "node down"
            assert await asyncio.to_thread(cluster_tool.kill, VICTIM) == 0, \
                "the node to kill is not this cluster's"
            assert not cluster_tool.answering(VICTIM, timeout=2.0)
            timeline["killed_at_s"] = time.monotonic() - started
            await asyncio.sleep(DOWN_S)
            ledger.phase = "restarting"
            restarted = time.monotonic()
            assert await asyncio.to_thread(cluster_tool.start, VICTIM) == 0
            timeline["restart_s"] = time.monotonic() - restarted
            assert await asyncio.to_thread(cluster_tool.settled), "node 3 did not rejoin"
            timeline["rejoined_s"] = time.monotonic() - restarted
            ledger.phase = "recovered"
            await asyncio.sleep(AFTER_S)
            stop.set()
            await asyncio.wait_for(load, 120)
            timeline["total_s"] = time.monotonic() - started

        asyncio.run(asyncio.wait_for(scenario(), 600))

    session.cluster.control_connection.wait_for_schema_agreement(wait_time=120)
    figures = verify(settings, session, ledger)
    figures.update(recount_and_check(settings, session, ledger))
    figures.update(timeline, feed_ok=ledger.feed_ok, feed_failed=len(ledger.feed_failed),
                   view_retries=ledger.view_retries, latency_ms=ledger.summary())
    print("\nnode-loss figures:", json.dumps(figures, indent=1, default=str))
    assert ledger.feed_ok.get("node down", 0) > 0, "load ran while the node was down"
    assert not ledger.feed_failed, ledger.feed_failed[:5]
    assert not ledger.unacked
    assert figures["acked"] > 200
    assert figures["missing_event_ids"] == 0
    assert figures["play_count_mismatch"] == 0
    # Counter increments are not idempotent: one that times out while a node dies may or
    # may not have been applied, and its event is then retried as a duplicate and not
    # counted again. So counters may be off, but only by events whose first try failed;
    # the histories above must be exact (docs/operations.md, "Node loss").
    assert figures["counter_mismatch"] <= ledger.view_retries
    # The recount makes them exact again: the load has stopped, so no view is in flight.
    assert figures["recounted_mismatch"] == 0, figures["recount"]
    assert figures["profile_max_diff"] < 1e-4


# Right after the restart the nodes replay hints and compact on two shared cores, and a
# read can outlast the nodes' 2 s timeout; what is checked here is the data, not latency.
ATTEMPTS = 8


def verify(settings, session, ledger: Ledger) -> dict:
    per_pair = Counter((u, v) for u, v, _ in ledger.acked)
    per_video = Counter(v for _, v, _ in ledger.acked)
    rows, counts = asyncio.run(read_back(settings.cassandra_keyspace, session,
                                         {u for u, _ in per_pair}, list(per_video)))

    def play_count(pair) -> int:
        return (rows[pair].play_count or 0) if pair in rows else 0

    missing = sum(1 for u, v, e in ledger.acked
                  if (u, v) not in rows or e not in (rows[(u, v)].event_ids or ()))
    plays = sum(abs(play_count(pair) - n) for pair, n in per_pair.items())
    counter_mismatch = sum(abs(counts.get(v, 0) - n) for v, n in per_video.items())
    counted_twice = sum(max(0, counts.get(v, 0) - n) for v, n in per_video.items())
    return {"acked": len(ledger.acked), "unacked": len(ledger.unacked),
            "missing_event_ids": missing, "play_count_mismatch": plays,
            "counter_mismatch": counter_mismatch, "counted_twice": counted_twice,
            "profile_max_diff": profile_difference(settings, {u for u, _ in per_pair})}


def recount_and_check(settings, session, ledger: Ledger) -> dict:
    """Run the recount on the recovered cluster, then read every viewed video's counter."""
    per_video = Counter(v for _, v, _ in ledger.acked)
    store = ViewCountStore(session, settings.cassandra_keyspace)

    async def recount() -> tuple[list[dict], dict]:
        runs = [await recount_views(store, parallelism=4, splits=64)]
        # A correction that timed out may or may not have applied: run again (as documented).
        while runs[-1]["unsure"] and len(runs) < 3:
            runs.append(await recount_views(store, parallelism=4, splits=64))
        return runs, await read_counts(settings.cassandra_keyspace, session, list(per_video))

    runs, counts = asyncio.run(recount())
    return {"recount": runs,
            "recounted_mismatch": sum(abs(counts.get(v, 0) - n) for v, n in per_video.items())}


def _at_quorum(session, cql: str, key):
    statement = SimpleStatement(cql, consistency_level=ConsistencyLevel.LOCAL_QUORUM)
    return retry_transient(lambda: execute(session, statement, (key,)), ATTEMPTS)


async def read_counts(ks: str, session, videos) -> dict:
    """View counters at LOCAL_QUORUM, one partition at a time."""
    counts = {}
    for video in videos:
        for row in await _at_quorum(session, f"SELECT videoid, views FROM "
                                    f"{ks}.video_view_counts WHERE videoid = %s", video):
            counts[row.videoid] = row.views
    return counts


async def read_back(ks: str, session, users, videos) -> tuple[dict, dict]:
    """History rows and view counters at LOCAL_QUORUM, one partition at a time."""
    rows = {}
    for user in users:
        for row in await _at_quorum(session, f"SELECT videoid, play_count, event_ids FROM "
                                    f"{ks}.viewer_history WHERE userid = %s", user):
            rows[(user, row.videoid)] = row
    return rows, await read_counts(ks, session, videos)


def profile_difference(settings, users) -> float:
    """Largest |online - rebuilt| over the viewers' preference vectors."""
    resources = build_resources(settings, build_provider(settings))
    params = profile_params(settings)

    async def difference(user) -> float:
        # Each step reads, or rebuilds from history: safe to repeat.
        online = await retry_transient(lambda: resources.activity.taste(user), ATTEMPTS)
        model = await retry_transient(resources.videos.catalogue_model, ATTEMPTS)
        await retry_transient(lambda: resources.activity.rebuild(user, model), ATTEMPTS)
        rebuilt = (await retry_transient(lambda: resources.viewers.taste_state(user, for_update=True),
                                  ATTEMPTS)).state
        a, b = online.preference_vector(params), rebuilt.preference_vector(params)
        if (a is None) != (b is None):
            return float("inf")
        return 0.0 if a is None else float(np.max(np.abs(a - b)))

    async def worst() -> float:
        return max([await difference(user) for user in users], default=0.0)

    try:
        return asyncio.run(worst())
    finally:
        resources.close()
