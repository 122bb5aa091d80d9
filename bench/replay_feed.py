"""The For You feed for real histories: page 1 by how much the viewer has watched.

    .venv/bin/python -m bench.replay_feed [--per-band 40] [--reuse] [--no-write-docs]

A keyspace of its own (`bench_replay_feed`) holds the MovieLens catalogue (every movie a
video and its own channel, hashing embeddings) and every viewer's history but their last
few ratings (as `make eval` splits them), trained with `make train`'s code, which also
rebuilds the profiles. Then, served with the shipped defaults, up to `--per-band` viewers
of each history band ask for page 1 once, one request at a time (a miss of the list
cache: the whole pipeline). Server CPU per request is the app's and Cassandra's CPU over
a band's requests divided by their number. Then the same viewers ask for page 2 (the
ranked list cached), and for the related videos of their last video, anonymous and with
their token. Last, each watches the next video they rated (a view through the API, with
a new event id each run) and asks for page 1 again: a session's page 1 after a view,
with its ranked list stale and its kept nearest list (FEED_VIEWER_NEAREST) there to
answer. Writes the block between
<!-- replay-feed:begin --> and <!-- replay-feed:end --> in docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx

from bench import machine, report
from bench.loadgen import freeze_client_heap
from bench.replay import BANDS, DEFAULT_DATA
from bench.server import Server
from killrvideo_reco.auth import mint
from killrvideo_reco.bootstrap import build_stores, migrate, services_on
from killrvideo_reco.embeddings.factory import build_provider
from killrvideo_reco.evaluation import data, loader
from killrvideo_reco.evaluation.embedding import embed_movies
from killrvideo_reco.jobs.train import run_training
from killrvideo_reco.settings import Settings
from killrvideo_reco.store import schema
from killrvideo_reco.store.connection import connect

REPO = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- replay-feed:begin -->", "<!-- replay-feed:end -->"


def log(message: str) -> None:
    print(f"[replay-feed] {message}", file=sys.stderr, flush=True)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--per-band", type=int, default=40, help="viewers asked per history band")
    ap.add_argument("--keyspace", default="bench_replay_feed")
    ap.add_argument("--reuse", action="store_true",
                    help="keep the keyspace of an earlier run (same data, already trained)")
    ap.add_argument("--no-write-docs", dest="write_docs", action="store_false")
    return ap.parse_args(argv)


async def load_and_train(settings: Settings, data_dir: Path,
                         users: list[data.UserSplit]) -> None:
    dataset = data.load(data_dir)
    movies = [dataset.movies[m] for m in sorted(dataset.movies)]
    provider = build_provider(settings)
    vectors, _, _ = embed_movies(provider, movies, data_dir, None)
    cluster, session = connect(settings)
    try:
        schema.reset_keyspace(session, settings)
        stores = build_stores(session, settings.cassandra_keyspace)
        await loader.load_catalogue(stores.videos, movies, vectors, provider.model_id,
                                    data.added_times(dataset.ratings))
        log(f"{await loader.write_history(stores.viewers, users):,} watches written; training")
        await run_training(services_on(stores, settings, provider), settings,
                           progress_stream=sys.stderr)
    finally:
        cluster.shutdown()


def band_of(watched: int) -> str:
    return next(name for low, high, name in BANDS if low <= watched < high)


FEED = "/api/v1/recommendations/foryou"


def page(token: str, number: int = 1) -> tuple[str, dict, str | None]:
    return FEED, {"pageSize": 10, "page": number}, token


def related(video: uuid.UUID, token: str | None) -> tuple[str, dict, str | None]:
    return f"/api/v1/videos/{video}/related", {"limit": 10}, token


def watch(client: httpx.Client, user: data.UserSplit, token: str) -> None:
    rating = user.heldout[0]
    completion, _ = data.watch_for_rating(rating.rating)
    response = client.post(
        f"/api/v1/videos/{loader.video_uuid(rating.movie_id)}/views",
        headers={"Authorization": f"Bearer {token}"},
        json={"eventId": f"replay-feed-{uuid.uuid4()}", "durationS": data.DURATION_S,
              "secondsWatched": completion * data.DURATION_S,
              # When they rated it: a view dated today would outweigh years of history.
              "watchedAt": datetime.fromtimestamp(rating.at, timezone.utc).isoformat()})
    if response.status_code not in (200, 201):
        raise SystemExit(f"replay-feed: a view got {response.status_code}: {response.text}")


def kept_lists(client: httpx.Client) -> dict[str, float]:
    """killrvideo_feed_viewer_nearest_total by result ("reused", "queried", ...) and
    killrvideo_neighbour_lists_total ("lists stored", "lists computed"), from /metrics."""
    text = client.get("/metrics").text
    found = {sample.labels["result"]: sample.value for sample in report.metric_samples(
        text, "killrvideo_feed_viewer_nearest") if sample.name.endswith("_total")}
    found.update({f"lists {sample.labels['result']}": sample.value
                  for sample in report.metric_samples(text, "killrvideo_neighbour_lists")
                  if sample.name.endswith("_total")})
    return found


def moved(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after}


def ask(client: httpx.Client, server: Server,
        requests: list[tuple[str, dict, str | None]]) -> dict:
    """One request at a time; latency percentiles and server CPU per request."""
    freeze_client_heap()
    sample = machine.CpuSample.start(server=server.pid, cassandra=machine.cassandra_pid())
    latencies, sources = [], {}
    for path, params, token in requests:
        started = time.perf_counter()
        response = client.get(path, params=params, headers={
            "Authorization": f"Bearer {token}"} if token else {})
        latencies.append(1000 * (time.perf_counter() - started))
        source = ("error" if response.status_code != 200
                  else response.json().get("source", "related"))
        sources[source] = sources.get(source, 0) + 1
    used = sample.stop()["cpu_s"]
    n = len(latencies)
    return {"n": n, "p50": statistics.median(latencies),
            "p99": sorted(latencies)[min(n - 1, int(0.99 * n))],
            "app": 1000 * (used["server"] or 0) / n,
            "cassandra": 1000 * (used["cassandra"] or 0) / n, "sources": sources}


def main(argv=None) -> int:
    args = parse_args(argv)
    if not (args.data_dir / "ratings.csv").exists():
        raise SystemExit(f"replay-feed: no ratings.csv in {args.data_dir}; pass --data-dir")
    os.environ.setdefault("DEV_MODE", "1")
    settings = Settings(cassandra_keyspace=args.keyspace, vector_dimension=384,
                        embedding_provider="hashing", cassandra_request_timeout_s=30.0)
    users, _ = data.split_users(data.load(args.data_dir).ratings)
    if not args.reuse:
        log(f"loading {len(users)} viewers into {args.keyspace}")
        asyncio.run(load_and_train(settings, args.data_dir, users))
    else:
        migrate(settings)  # a keyspace loaded by an older release lacks newer schema files
    bands: dict[str, list[data.UserSplit]] = {name: [] for _, _, name in BANDS}
    for user in users:
        bands[band_of(len(user.train))].append(user)
    chosen = {name: group[:args.per_band] for name, group in bands.items()}
    cells = {}
    with Server(args.keyspace) as server, httpx.Client(base_url=server.base_url,
                                                       timeout=30.0) as client:
        token = {u.user_id: mint(settings, loader.user_uuid(u.user_id), ["viewer"])
                 for group in chosen.values() for u in group}
        warm = [u for group in bands.values() for u in group[args.per_band:][:3]]
        ask(client, server, [page(mint(settings, loader.user_uuid(u.user_id), ["viewer"]))
                             for u in warm])  # connections, caches, the popular pool
        time.sleep(1.0)
        for name, group in chosen.items():
            if group:
                before = kept_lists(client)
                cells[name] = ask(client, server, [page(token[u.user_id]) for u in group])
                cells[name]["watched"] = statistics.median(len(u.train) for u in group)
                cells[name]["kept"] = moved(before, kept_lists(client))
        everyone = [u for group in chosen.values() for u in group]
        # Page 2 right after page 1: the ranked list is cached.
        extra = {"page 2 (after page 1)": ask(client, server, [
            page(token[u.user_id], 2) for u in everyone])}
        # Related videos of each viewer's last video, anonymous, then as the viewer.
        last = {u.user_id: loader.video_uuid(u.train[-1].movie_id) for u in everyone}
        extra["related, anonymous"] = ask(client, server, [
            related(last[u.user_id], None) for u in everyone])
        extra["related, as the viewer"] = ask(client, server, [
            related(last[u.user_id], token[u.user_id]) for u in everyone])
        # A watch page asks again for videos asked about moments ago: the caches answer.
        extra["related, anonymous, again"] = ask(client, server, [
            related(last[u.user_id], None) for u in everyone])
        for u in everyone:  # each watches the next video they rated, then back to the feed
            watch(client, u, token[u.user_id])
        before = kept_lists(client)
        extra["page 1 after a view"] = ask(client, server, [page(token[u.user_id])
                                                             for u in everyone])
        after = kept_lists(client)
        extra["page 1 after a view"]["kept"] = moved(before, after)
    cluster, session = connect(settings)
    try:
        version = session.execute("SELECT release_version FROM system.local").one()[0]
    finally:
        cluster.shutdown()
    block = markdown(args, cells, extra, version)
    print(block)
    if args.write_docs:
        report.update_doc(REPO / "docs" / "benchmarks.md", block, BEGIN, END,
                          heading="The feed for real histories: page 1 by history length")
    return 0


def markdown(args, cells: dict, extra: dict, version: str) -> str:
    where = machine.describe(version)
    lines = [f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC with `.venv/bin/python "
             f"-m bench.replay_feed --per-band {args.per_band}` (part of `make bench`) on "
             f"{where['cpu']}, {where['ram']} RAM, Cassandra {version}; MovieLens "
             "ml-latest-small, every viewer's history but the last ratings, trained; shipped "
             "defaults; page 1 (10 items), one request at a time, each viewer once.", "",
             "| history watched | viewers | median watched | p50 ms | p99 ms | "
             "server CPU ms (app / Cassandra) | behaviour source: kept list / ANN query | "
             "content lists: stored / computed now | sources |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, cell in cells.items():
        kept = cell.get("kept", {})
        lines.append(f"| {name} | {cell['n']} | {cell['watched']:.0f} | {cell['p50']:.1f} | "
                     f"{cell['p99']:.1f} | {cell['app'] + cell['cassandra']:.1f} "
                     f"({cell['app']:.1f} / {cell['cassandra']:.1f}) | "
                     f"{kept.get('reused', 0):.0f} / {kept.get('queried', 0):.0f} | "
                     f"{kept.get('lists stored', 0):.0f} / {kept.get('lists computed', 0):.0f} | "
                     f"{cell['sources']} |")
    light, heavy = cells.get(BANDS[0][2]), cells.get(BANDS[-1][2])
    if light and heavy:
        ratio = (heavy["app"] + heavy["cassandra"]) / max(light["app"] + light["cassandra"], 1e-9)
        lines += ["", f"Server CPU of a heavy watcher's page 1 against a light one's: "
                      f"**{ratio:.2f}x** (target ≤ 1.5x)."]
    lines += ["", "The same viewers, every band together: page 2 right after their page 1 "
              "(the ranked list cached), and the related videos of each one's last video "
              "(`limit=10`, neighbour lists read by key; the first anonymous pass is cold, "
              "the later ones find the video's facts, list and summaries in the process's "
              "caches).", "",
              "| request | requests | p50 ms | p99 ms | server CPU ms (app / Cassandra) |",
              "|---|---|---|---|---|"]
    for name, cell in extra.items():
        lines.append(f"| {name} | {cell['n']} | {cell['p50']:.1f} | {cell['p99']:.1f} | "
                     f"{cell['app'] + cell['cassandra']:.1f} ({cell['app']:.1f} / "
                     f"{cell['cassandra']:.1f}) |")
    kept = extra["page 1 after a view"].get("kept", {})
    lines += ["", f"Page 1 after a view, the behaviour source: {kept.get('reused', 0):.0f} "
              f"answered from the viewer's kept nearest list, {kept.get('queried', 0):.0f} by "
              f"an ANN query (FEED_VIEWER_NEAREST_MIN_COSINE "
              f"{Settings().feed_viewer_nearest_min_cosine:g})."]
    second = extra["page 2 (after page 1)"]
    worst = max(extra[k]["cassandra"] for k in extra if k.startswith("related"))
    again = extra["related, anonymous, again"]["cassandra"]
    lines += ["", f"Targets: page 2 ≤ 3 ms of server CPU: {second['app'] + second['cassandra']:.1f}"
              f" ms, {'met' if second['app'] + second['cassandra'] <= 3 else 'NOT met'}; "
              f"related ≤ 1.5 ms of Cassandra CPU: {worst:.1f} ms at worst, "
              f"{'met' if worst <= 1.5 else 'NOT met'}; {again:.1f} ms for a video asked "
              f"about before ({'met' if again <= 1.5 else 'NOT met'})."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
