"""The statements and the CPU of one feed request, page 1 against page 2, in process.

    .venv/bin/python -m bench.feed_statements [--keyspace bench_10k] [--viewers 50]

On a seeded and trained bench keyspace, the services `make serve` wires (shipped
defaults) serve page 1 then page 2 of each viewer, one request at a time, with every
statement counted at the store layer's one entry point (`store.aio.execute`). Prints
Cassandra's and this process's CPU per request and the statements per request, most
frequent first: where a page's cost goes, without HTTP. `--again N`: then page 1 N more
times per viewer with the ranked-list cache emptied before each round, as a view would
invalidate it: a page 1 recomputed within a browsing session.
"""
from __future__ import annotations

import argparse
import asyncio
import time

from bench import machine, seed
from bench.view_bytes import ByteMeter
from killrvideo_reco.bootstrap import build_stores, services_on
from killrvideo_reco.embeddings.factory import build_provider
from killrvideo_reco.store.connection import connect

WARM_UP = 10


async def measure(keyspace: str, viewers: int, again: int = 0) -> list[str]:
    settings = seed.bench_settings(keyspace)
    meter = ByteMeter(sizes=False)
    counts = meter.by_text
    cluster, session = connect(settings)
    try:
        with meter.watching():
            services = services_on(build_stores(session, keyspace), settings,
                                   build_provider(settings))
            users = [u for u, _ in seed.load_user_vectors(session, keyspace)][:viewers + WARM_UP]
            for user in users[:WARM_UP]:
                await services.experiments.for_you(user, 1, 10)
            cassandra, lines = machine.cassandra_pid(), []
            for round_, page in enumerate((1, 2, *[1] * again)):
                if round_ >= 2 and services.feed.lists is not None:
                    services.feed.lists.clear()  # as the viewer's next view would
                await services.impressions.drain(10)
                counts.clear()
                c0, a0 = machine.process_cpu_s(cassandra), time.process_time()
                for user in users[WARM_UP:]:
                    await services.experiments.for_you(user, page, 10)
                await services.impressions.drain(10)  # the page's writes are its cost too
                n = len(users) - WARM_UP
                c1 = machine.process_cpu_s(cassandra)
                name = f"page {page}" if round_ < 2 else f"page 1 again ({round_ - 1})"
                lines.append(f"{name}: Cassandra {1000 * ((c1 or 0) - (c0 or 0)) / n:.1f} ms, "
                             f"app {1000 * (time.process_time() - a0) / n:.1f} ms per request "
                             f"({n} viewers of {keyspace}); statements per request:")
                lines += [f"  {c / n:5.2f}  {q}" for q, c in counts.most_common()]
            return lines
    finally:
        cluster.shutdown()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keyspace", default="bench_10k")
    ap.add_argument("--viewers", type=int, default=50)
    ap.add_argument("--again", type=int, default=0, metavar="N",
                    help="then page 1 N more times, the ranked lists emptied before each")
    args = ap.parse_args(argv)
    print("\n".join(asyncio.run(measure(args.keyspace, args.viewers, args.again))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
