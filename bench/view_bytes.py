"""Bytes one view event moves between the service and Cassandra, by history length.

A ByteMeter wraps the store layer's one entry point (`store.aio.execute`) and adds up the
values of every statement sent (bound values; a batch's serialised values) and of every
row received. That is the mutation payload the node must write (a conditional batch is
written twice by the node: to its Paxos table, then the table) and the data it must read.

`python -m bench.view_bytes` measures one journal cycle (PROFILE_JOURNAL_COMMITS views: journal
entries, then a snapshot) for viewers with 50 and 2,000 watched videos, every video its
own channel (the MovieLens case), on a scratch keyspace, and prints the table
docs/benchmarks.md quotes, with the cycle's mean. The first view is a fresh replica's: it
keeps no state and finds none of the head's referenced videos (recent likes, medoids) in
the facts cache, so it reads their facts (one `IN` read); the second finds them cached
and the state kept; the third finds the facts expired but the references and the state
kept; halfway one is taken as another replica would, replaying the journal from cold
caches. tests/integration/test_view_cost.py asserts that the two histories cost the same
within 10%, and a cycle's mean at most 4 KB.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import sys
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import numpy as np
from cassandra.query import BatchStatement

import killrvideo_reco.store as store_package
from killrvideo_reco.store import aio

FIXED = 8  # numbers and timestamps


def value_size(value) -> int:
    if value is None:
        return 0
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, uuid.UUID):
        return 16
    if isinstance(value, np.ndarray):
        return int(value.astype(np.float32).nbytes)
    if isinstance(value, (int, float, bool, datetime, date)):
        return FIXED
    if isinstance(value, dict):
        return sum(value_size(k) + value_size(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return sum(value_size(v) for v in value)
    return len(str(value))


def statement_bytes(statement, parameters) -> int:
    if isinstance(statement, BatchStatement):
        return sum(len(v) for _, _, values in statement._statements_and_parameters
                   for v in values if v)
    return value_size(tuple(parameters or ()))


@dataclass
class ByteMeter:
    written: int = 0   # values sent by statements that write
    read: int = 0      # values of the rows received
    statements: int = 0
    filtering: int = 0  # statements the node answers by filtering rows (ALLOW FILTERING)
    by_text: collections.Counter = field(default_factory=collections.Counter)
    sizes: bool = True  # off: count statements only, adding no CPU of its own

    @contextlib.contextmanager
    def watching(self):
        original = aio.execute
        meter = self

        async def measured(session, statement, parameters=None, *args, **kwargs):
            rows = await original(session, statement, parameters, *args, **kwargs)
            meter.statements += 1
            text = (getattr(statement, "query_string", None) or getattr(
                getattr(statement, "prepared_statement", None), "query_string", None) or "")
            meter.by_text[" ".join((text or type(statement).__name__).split())[:100]] += 1
            meter.filtering += "ALLOW FILTERING" in text.upper()
            if not meter.sizes:
                return rows
            if isinstance(statement, BatchStatement) or not text.lstrip().upper().startswith(
                    "SELECT"):
                meter.written += statement_bytes(statement, parameters)
            meter.read += sum(value_size(tuple(row)) for row in rows
                              if isinstance(row, tuple))
            return rows

        patched = [m for name, m in sys.modules.items()
                   if name.startswith(store_package.__name__ + ".")
                   and getattr(m, "execute", None) is original]
        for module in patched:
            module.execute = measured  # type: ignore[attr-defined]
        try:
            yield self
        finally:
            for module in patched:
                module.execute = original  # type: ignore[attr-defined]


async def one_view(activity, user_id: uuid.UUID, video_id: uuid.UUID) -> ByteMeter:
    meter = ByteMeter()
    with meter.watching():
        await activity.record_view(user_id, video_id, f"bytes-{uuid.uuid4()}", 400.0, 600.0)
    return meter


async def seed_viewer(viewers, activity, model: str, user_id: uuid.UUID,
                      video_ids, now: datetime | None = None) -> None:
    """Watched rows for `video_ids` (two thirds through, a minute apart), then the state
    rebuilt from them, as `make profiles` does."""
    from killrvideo_reco.domain.models import HistoryRow
    now = now or datetime.now(timezone.utc)
    rows = [(user_id, HistoryRow(v, now - timedelta(minutes=k), now - timedelta(minutes=k),
                                 1, 400.0, 600.0)) for k, v in enumerate(video_ids)]
    await viewers.import_watches(rows)
    await activity.rebuild(user_id, model)


def main() -> int:
    from bench import seed
    from killrvideo_reco.bootstrap import build_resources
    from killrvideo_reco.embeddings.factory import build_provider
    from killrvideo_reco.store import schema
    from killrvideo_reco.store.connection import Database

    settings = seed.bench_settings("bench_view_bytes")
    database = Database(settings)
    try:
        schema.reset_keyspace(database.session, settings)  # a scratch keyspace, migrated
    finally:
        database.close()
    resources = build_resources(settings, build_provider(settings))
    try:
        return asyncio.run(_measure(resources, settings))
    finally:
        resources.database.close()


BEGIN, END = "<!-- view-bytes:begin -->", "<!-- view-bytes:end -->"


async def _measure(resources, settings) -> int:
    from killrvideo_reco.domain.models import NewVideo
    rng = np.random.default_rng(3)
    model = "hashing-v1:384"
    count = 2000 + 2 * resources.activity.journal_commits
    now = datetime.now(timezone.utc)
    videos = [NewVideo(uuid.uuid4(), uuid.uuid4(), f"video {i}", "", ("bench",), None,
                       now, None, 600, rng.normal(size=settings.vector_dimension)
                       .astype(np.float32), model) for i in range(count)]
    for start in range(0, count, 200):
        await asyncio.gather(*(resources.videos.add(v) for v in videos[start:start + 200]))
    await resources.videos.set_catalogue_model(model)
    ids = [v.video_id for v in videos]
    cycle = resources.activity.journal_commits
    lines = [f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC with `.venv/bin/python "
             "-m bench.view_bytes` (part of `make bench`): `PROFILE_JOURNAL_COMMITS` views "
             f"({cycle}: one cycle of journal entries and a snapshot), each 400 s of a 600 s "
             "video of a new channel, by a viewer whose state was rebuilt from n watched "
             "videos, every video its own channel; values of the statements sent and of the "
             "rows received, counted at the store layer's one entry point. Facts cache cold: "
             "the first view after the state was built, whose head's references are all "
             "misses; warm: the next view, within `FEED_CACHE_TTL_S`; then one after the facts "
             "expired (`FEED_CACHE_TTL_S`) but not the resolved references "
             "(`VIEW_REFERENCE_CACHE_TTL_S`), the state this replica committed still kept "
             "(`VIEW_STATE_CACHE_SIZE`); halfway, one as another replica would take it, "
             "replaying the journal from cold caches; the rest warm, the last a snapshot.",
             "",
             "| viewer's history | commit, caches | bytes written | bytes read | statements |",
             "|---|---|---|---|---|"]
    facts = resources.activity.facts
    cycle = resources.activity.journal_commits
    for n, fresh in ((50, ids[-2 * cycle:-cycle]), (2000, ids[-cycle:])):
        user = uuid.uuid4()
        await seed_viewer(resources.viewers, resources.activity, model, user, ids[:n])
        # step -> (label, caches emptied, whether the replica forgets the kept state)
        cold = ((facts.cache, facts.references), True)
        steps = {0: ("cold: a fresh replica", *cold), 1: ("warm", (), False),
                 2: ("facts expired, references and state kept", (facts.cache,), False),
                 cycle // 2: (f"cold, {cycle // 2} entries to replay: another replica", *cold)}
        meters = []
        for k, video in enumerate(fresh):
            label, cleared, forget = steps.get(k, ("warm", (), False))
            for cache in cleared:
                if cache is not None:
                    cache.clear()
            if forget:
                resources.activity.reader.forget(user)
            meters.append(await one_view(resources.activity, user, video))
            kind = "snapshot" if k == cycle - 1 else "journal entry"
            if k in steps or k == cycle - 1:
                lines.append(f"| {n:,} watched, {n:,} channels | {kind}, {label} | "
                             f"{meters[-1].written:,} | {meters[-1].read:,} | "
                             f"{meters[-1].statements} |")
        mean = [sum(getattr(m, f) for m in meters) / len(meters)
                for f in ("written", "read", "statements")]
        lines.append(f"| {n:,} watched, {n:,} channels | **mean of {cycle} views** | "
                     f"**{mean[0]:,.0f}** | {mean[1]:,.0f} | {mean[2]:.1f} |")
    block = "\n".join(lines)
    print(block)
    if "--no-write-docs" not in sys.argv:
        from pathlib import Path

        from bench import report
        report.update_doc(Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md",
                          block, BEGIN, END, heading="Bytes per view")
    return 0


if __name__ == "__main__":
    sys.exit(main())
