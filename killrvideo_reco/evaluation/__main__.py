"""`make eval`: python -m killrvideo_reco.evaluation [--users N] [--data-dir DIR]

Drops and recreates the evaluation keyspace (its name must contain 'eval', so a
serving keyspace is never dropped by mistake), runs the pipeline, prints the table
and writes docs/quality.md and docs/quality.png.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

from killrvideo_reco.bootstrap import build_stores
from killrvideo_reco.embeddings.factory import build_provider
from killrvideo_reco.evaluation import report
from killrvideo_reco.evaluation.pipeline import RunConfig, evaluate
from killrvideo_reco.settings import Settings
from killrvideo_reco.store import schema
from killrvideo_reco.store.connection import Database

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO.parent / "shared" / "datasets" / "ml-latest-small"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m killrvideo_reco.evaluation",
                                description="Offline recommendation quality on MovieLens.")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA,
                   help="MovieLens ml-latest-small folder (default: %(default)s)")
    p.add_argument("--users", type=int, default=None,
                   help="evaluate a random subsample of N users (quick run)")
    p.add_argument("--keyspace", default="killrvideo_eval",
                   help="keyspace to (re)create; must contain 'eval' (default: %(default)s)")
    p.add_argument("--docs-dir", type=Path, default=REPO / "docs",
                   help="where quality.md and quality.png go (default: %(default)s)")
    p.add_argument("--no-variants", action="store_true",
                   help="skip the in-memory sensitivity grid and the cold-video check")
    p.add_argument("--engines", action="store_true",
                   help="also train ALS with the local and the Spark engine and rank For You "
                        "after each (needs PySpark: make eval TRAIN_ENGINE=spark)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if "eval" not in args.keyspace:
        print(f"eval: refusing to drop keyspace {args.keyspace!r}: its name must contain "
              "'eval'", file=sys.stderr)
        return 2
    if not (args.data_dir / "ratings.csv").exists():
        print(f"eval: no ratings.csv in {args.data_dir}; pass --data-dir", file=sys.stderr)
        return 2
    started = time.monotonic()
    # Larger timeout than serving: ANN queries at LIMIT 1000 under load, batch rebuilds.
    # The main table is the default engine's run; --engines adds the ALS rows of both.
    settings = Settings(cassandra_keyspace=args.keyspace, cassandra_request_timeout_s=30.0,
                        train_engine="local")
    provider = build_provider(settings)
    config = RunConfig(data_dir=args.data_dir, users=args.users, cache_dir=REPO / ".cache",
                       offline_checks=not args.no_variants, engines=args.engines)
    database = Database(settings)
    try:
        schema.reset_keyspace(database.session, settings)
        stores = build_stores(database.session, settings.cassandra_keyspace)
        result = asyncio.run(evaluate(settings, stores, provider, config))
    finally:
        database.close()
    elapsed = time.monotonic() - started
    print(report.table(result))
    command = ("make eval TRAIN_ENGINE=spark  # = .venv-spark/bin/python" if args.engines else
               "make eval  # = .venv/bin/python") + " -m killrvideo_reco.evaluation" + (
        f" --users {args.users}" if args.users else "") + (
        " --no-variants" if args.no_variants else "") + (" --engines" if args.engines else "")
    md, png = report.write(result, args.docs_dir, command, elapsed)
    print(f"\nwrote {md}" + (f" and {png}" if png else " (no chart: pip install '.[eval]')")
          + f" in {elapsed:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
