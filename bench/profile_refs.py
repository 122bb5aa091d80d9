"""What resolving the read model's references costs a feed request, cold and warm.

    .venv/bin/python -m bench.profile_refs [--viewers 300]

On bench_10k (seeded by `make bench`, read models by reference), in process: the stored
profiles of the first viewers, each resolved through the view path's caches
(`ViewFacts.resolve_profile`, the feed's first step). Cold: new caches, as a fresh replica
has (each viewer's references a miss, one `IN` read of their videos); warm: the same
profiles again. Twice each, since the node's own caches warm up too. Prints the table
docs/benchmarks.md quotes (after "Bytes per view"'s table of statements).
"""
from __future__ import annotations

import argparse
import asyncio
import time

from cachetools import TTLCache

from bench import machine, seed
from killrvideo_reco.bootstrap import build_stores
from killrvideo_reco.service.view_facts import ViewFacts
from killrvideo_reco.store.connection import connect

KEYSPACE = "bench_10k"


async def measure(viewers: int) -> list[str]:
    settings = seed.bench_settings(KEYSPACE)
    cluster, session = connect(settings)
    try:
        stores = build_stores(session, KEYSPACE)
        users = [u for u, _ in seed.load_user_vectors(session, KEYSPACE)][:viewers]
        stored = [await stores.viewers.profile(u) for u in users]
        profiles = [p for p in stored if p is not None and not p.resolved()]
        if not profiles:
            raise SystemExit(f"{KEYSPACE} holds no read model by reference: run make bench")
        refs = sum(len(p.references.videos()) for p in profiles) / len(profiles)
        cassandra = machine.cassandra_pid()
        lines = [f"{len(profiles)} profiles, {refs:.1f} references each", "",
                 "| reference cache | Cassandra CPU ms | app CPU ms | wall ms |",
                 "|---|---|---|---|"]
        facts = None
        for label in ("cold", "warm", "cold again", "warm again"):
            if label.startswith("cold"):
                facts = ViewFacts(stores.videos, TTLCache(10_000, settings.feed_cache_ttl_s),
                                  TTLCache(10_000, settings.view_reference_cache_ttl_s))
            assert facts is not None
            c0, a0, t0 = (machine.process_cpu_s(cassandra), time.process_time(),
                          time.perf_counter())
            for p in profiles:
                await facts.resolve_profile(p, settings.vector_dimension)
            n = len(profiles)
            c1 = machine.process_cpu_s(cassandra)
            lines.append(f"| {label} | {1000 * ((c1 or 0) - (c0 or 0)) / n:.2f} | "
                         f"{1000 * (time.process_time() - a0) / n:.2f} | "
                         f"{1000 * (time.perf_counter() - t0) / n:.2f} |")
        return lines
    finally:
        cluster.shutdown()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--viewers", type=int, default=300)
    args = ap.parse_args(argv)
    print("\n".join(asyncio.run(measure(args.viewers))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
