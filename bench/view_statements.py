"""Cassandra's CPU for each kind of statement a view makes, timed alone.

    .venv/bin/python -m bench.view_statements [--count 1500] [--concurrency 16]

Against bench_10k (seeded by `make bench`), each statement shape of the view path runs
`--count` times at `--concurrency` through the store layer's bridge (`store.aio.execute`),
on 400 scratch viewers, with blobs of the sizes a view writes. Cassandra's CPU over each
cell divided by its statements is what one such statement costs the node. Prints the
table quoted in docs/benchmarks.md ("View-path targets").
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid

from cassandra import ConsistencyLevel
from cassandra.query import BatchStatement, BatchType

from bench import machine, seed
from killrvideo_reco.store.aio import execute
from killrvideo_reco.store.connection import connect
from killrvideo_reco.store.videos import FACTS_COLUMNS

KEYSPACE = "bench_10k"


async def measure(session, count: int, concurrency: int) -> list[tuple[str, float]]:
    ks = KEYSPACE
    users = [uuid.uuid4() for _ in range(400)]
    # 27 KB: a layout-5 head (vectors inline); 6.8 KB: layout 6 (by reference), 384-d.
    head_27, head_6, model_22 = os.urandom(27_000), os.urandom(6_800), os.urandom(22_000)
    prepare = session.prepare
    statements = {
        "head": prepare(f"SELECT taste_version, taste_state, taste_model FROM {ks}.viewer_history "
                        "WHERE userid = ? LIMIT 1"),
        "rows": prepare(f"SELECT videoid, play_count, channel_sum FROM {ks}.viewer_history "
                        "WHERE userid = ? AND videoid IN ?"),
        "cas": prepare(f"UPDATE {ks}.viewer_history SET taste_version = ?, taste_state = ? "
                       "WHERE userid = ? IF taste_version = ?"),
        "row": prepare(f"UPDATE {ks}.viewer_history SET play_count = ?, event_ids = event_ids + ? "
                       "WHERE userid = ? AND videoid = ?"),
        "model": prepare(f"INSERT INTO {ks}.user_preferences (userid, recent_positive) "
                         "VALUES (?, ?) USING TIMESTAMP ?"),
        "counter": prepare(f"UPDATE {ks}.video_view_counts SET views = views + 1 "
                           "WHERE videoid = ?"),
        "facts": prepare(f"SELECT {FACTS_COLUMNS} FROM {ks}.videos WHERE videoid IN ?"),
    }
    catalogue = [row.videoid for row in session.execute(f"SELECT videoid FROM {ks}.videos "
                                                        "LIMIT 2000")]
    for statement in statements.values():
        statement.consistency_level = ConsistencyLevel.LOCAL_QUORUM
    versions: dict[uuid.UUID, int | None] = {u: None for u in users}

    async def conditional(i: int, head: bytes) -> None:
        user = users[i % len(users)]
        old = versions[user]
        batch = BatchStatement(batch_type=BatchType.LOGGED,
                               consistency_level=ConsistencyLevel.LOCAL_QUORUM,
                               serial_consistency_level=ConsistencyLevel.LOCAL_SERIAL)
        batch.add(statements["cas"], ((old or 0) + 1, head, user, old))
        batch.add(statements["row"], (1, {f"e{i}"}, user, uuid.uuid4()))
        rows = await execute(session, batch)
        if rows and rows[0].applied:
            versions[user] = (old or 0) + 1

    def now_us() -> int:
        return time.time_ns() // 1000

    cells = [
        ("conditional batch (Paxos v2) with the 27 KB head", lambda i: conditional(i, head_27)),
        ("the same with the layout-6 head (6.8 KB, by reference)",
         lambda i: conditional(i, head_6)),
        ("head read", lambda i: execute(session, statements["head"], (users[i % 400],))),
        ("history and channel rows, one `IN` read",
         lambda i: execute(session, statements["rows"],
                           (users[i % 400], [uuid.uuid4(), uuid.uuid4()]))),
        ("read-model write (22 KB)",
         lambda i: execute(session, statements["model"], (users[i % 400], model_22, now_us()))),
        ("one counter increment", lambda i: execute(session, statements["counter"],
                                                    (uuid.uuid4(),))),
        # A head's references on a cold facts cache: 20 recent likes + 3 medoids.
        ("facts of 23 videos, one `IN` read (references, cache cold)",
         lambda i: execute(session, statements["facts"],
                           (catalogue[(23 * i) % (len(catalogue) - 23):][:23],))),
    ]
    pid = machine.cassandra_pid()
    out = []
    for name, make in cells:
        before = machine.process_cpu_s(pid)
        await _run(make, count, concurrency)
        after = machine.process_cpu_s(pid)
        out.append((name, 1000 * ((after or 0) - (before or 0)) / count))
    return out


async def _run(make, count: int, concurrency: int) -> None:
    issued = 0

    async def worker() -> None:
        nonlocal issued
        while issued < count:
            issued += 1
            await make(issued)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1500)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args(argv)
    cluster, session = connect(seed.bench_settings(KEYSPACE))
    try:
        figures = asyncio.run(measure(session, args.count, args.concurrency))
    finally:
        cluster.shutdown()
    print("| statement | Cassandra CPU ms |\n|---|---|")
    for name, ms in figures:
        print(f"| {name} | {ms:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
