"""Online evaluation: MovieLens viewers replayed against a served app, public API only.

    .venv/bin/python -m bench.simulate [--viewers 300] [--sessions 10] [--reuse] [--no-write-docs]

A keyspace of its own (`bench_simulate`) holds the MovieLens catalogue and every viewer's
history but their last 10 ratings, trained (bench/replay_feed.py's loader). A moderator
starts two experiments through the API: A/B (`control`: the two-stage feed; `popularity`:
the popular list) and A/A (`a`, `b`: identical). Half the viewers are then served by an app
with impression discounting off (FEED_IMPRESSION_LIMIT=0), the other half by one with it
on (3), each viewer asking for page 1 once per session for `--sessions` sessions (sessions
end after FEED_SESSION_GAP_MIN=0.01 min here, and the ranked-list cache is off, as sessions
hours apart would find it expired). A viewer watches a shown video when it is in their
held-out future (rated >= 3.5), with probability 0.6 / sqrt(position); the view plays the
share the rating stands for (evaluation/data.py), and even viewers send the page's
recommendationId, odd ones do not. Experiment results come from the results endpoint;
distinct videos per viewer and CTR by discounting arm from the pages the client saw (95%
CIs by bootstrap over viewers). Writes <!-- simulate:begin/end --> in docs/quality.md.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx
import numpy as np

from bench import report
from bench.replay import DEFAULT_DATA
from bench.replay_feed import load_and_train
from bench.server import Server
from killrvideo_reco.auth import mint
from killrvideo_reco.evaluation import data, loader
from killrvideo_reco.settings import Settings

REPO = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- simulate:begin -->", "<!-- simulate:end -->"
FEED = "/api/v1/recommendations/foryou"
SERVING = {"FEED_SESSION_GAP_MIN": "0.01", "FEED_LIST_CACHE_TTL_S": "0",
           "FEED_CACHE_TTL_S": "1"}


def log(message: str) -> None:
    print(f"[simulate] {message}", file=sys.stderr, flush=True)


def watch_probability(position: int) -> float:
    return 0.6 / position ** 0.5


def session_round(client, viewers, tokens, rng, seen, clicks, shown_count, round_no):
    for user in viewers:
        headers = {"Authorization": f"Bearer {tokens[user.user_id]}"}
        page = client.get(FEED, params={"pageSize": 10}, headers=headers)
        if page.status_code != 200:
            continue
        body = page.json()
        future = {loader.video_uuid(r.movie_id): r for r in user.heldout
                  if r.rating >= data.RELEVANT_RATING}
        for item in body["items"]:
            video = uuid.UUID(item["videoId"])
            seen[user.user_id].add(video)
            shown_count[user.user_id] += 1
            rating = future.get(video)
            if rating is None or rng.random() >= watch_probability(item["position"]):
                continue
            completion, _ = data.watch_for_rating(rating.rating)
            view = {"eventId": f"s{round_no}-{video}", "secondsWatched": 600.0 * completion,
                    "durationS": 600.0}
            if user.user_id % 2 == 0:
                view["recommendationId"] = body["recommendationId"]
            client.post(f"/api/v1/videos/{video}/views", json=view, headers=headers)
            clicks[user.user_id] += 1


def bootstrap_ci(values: np.ndarray, weights: np.ndarray | None, rng, rounds=2000):
    """95% CI of the mean (or ratio of sums when weights are given) over viewers."""
    n = len(values)
    picks = rng.integers(0, n, (rounds, n))
    stats = (values[picks].sum(1) / weights[picks].sum(1) if weights is not None
             else values[picks].mean(1))
    return np.percentile(stats, [2.5, 97.5])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--viewers", type=int, default=300)
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--keyspace", default="bench_simulate")
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--no-write-docs", dest="write_docs", action="store_false")
    args = ap.parse_args(argv)
    os.environ.setdefault("DEV_MODE", "1")
    started = time.monotonic()
    settings = Settings(cassandra_keyspace=args.keyspace, vector_dimension=384,
                        embedding_provider="hashing", cassandra_request_timeout_s=30.0)
    users, _ = data.split_users(data.load(args.data_dir).ratings)
    if not args.reuse:
        asyncio.run(load_and_train(settings, args.data_dir, users))
    rng = np.random.default_rng(22)
    chosen = [users[i] for i in sorted(rng.choice(len(users), min(args.viewers, len(users)),
                                                  replace=False))]
    halves = {"off": chosen[0::2], "on": chosen[1::2]}
    tokens = {u.user_id: mint(settings, loader.user_uuid(u.user_id), ["viewer"]) for u in chosen}
    moderator = {"Authorization": f"Bearer {mint(settings, uuid.uuid4(), ['moderator'])}"}
    seen = {u.user_id: set() for u in chosen}
    clicks = {u.user_id: 0 for u in chosen}
    shown = {u.user_id: 0 for u in chosen}
    experiments = {}
    for name, limit in (("off", "0"), ("on", "3")):
        with Server(args.keyspace, extra_env={**SERVING, "FEED_IMPRESSION_LIMIT": limit}) as server, \
                httpx.Client(base_url=server.base_url, timeout=30.0) as client:
            if not experiments:
                for exp, variants in (("ab", [("control", {}), ("popularity", {"popularity": True})]),
                                      ("aa", [("a", {}), ("b", {})])):
                    body = {"name": exp, "variants": [{"name": n, "percent": 50, "overrides": o}
                                                      for n, o in variants]}
                    created = client.post("/api/v1/admin/experiments", json=body, headers=moderator)
                    created.raise_for_status()
                    experiments[exp] = created.json()["experimentId"]
                    client.post(f"/api/v1/admin/experiments/{experiments[exp]}/start",
                                headers=moderator).raise_for_status()
                time.sleep(1.5)
            for round_no in range(args.sessions):
                session_round(client, halves[name], tokens, rng, seen, clicks, shown, round_no)
                log(f"discounting {name}: session {round_no + 1} of {args.sessions} done")
            time.sleep(2.0)  # the queued impression and counter writes
            if name == "on":
                results = {exp: client.get(f"/api/v1/admin/experiments/{eid}/results",
                                           headers=moderator).json()
                           for exp, eid in experiments.items()}
                for eid in experiments.values():
                    client.post(f"/api/v1/admin/experiments/{eid}/stop", headers=moderator)
    arms = {}
    for name, group in halves.items():
        distinct = np.array([len(seen[u.user_id]) for u in group], dtype=float)
        c = np.array([clicks[u.user_id] for u in group], dtype=float)
        s = np.array([shown[u.user_id] for u in group], dtype=float)
        arms[name] = {"viewers": len(group), "distinct": distinct.mean(),
                      "distinct_ci": bootstrap_ci(distinct, None, rng),
                      "ctr": c.sum() / max(s.sum(), 1), "ctr_ci": bootstrap_ci(c, s, rng)}
    block = markdown(args, results, arms, time.monotonic() - started)
    print(block)
    if args.write_docs:
        report.update_doc(REPO / "docs" / "quality.md", block, BEGIN, END,
                          heading="Online evaluation")
    return 0


def _ci(i) -> str:
    return f"{i['difference']:+.4f} [{i['low']:+.4f}, {i['high']:+.4f}]" if i else "n/a"


def markdown(args, results: dict, arms: dict, seconds: float) -> str:
    lines = [f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC with `make simulate` "
             f"(`.venv/bin/python -m bench.simulate --viewers {args.viewers} --sessions "
             f"{args.sessions}`, {seconds:.0f} s): MovieLens (ml-latest-small) viewers, held-out "
             "future, watch probability 0.6/sqrt(position), public API only.", ""]
    for exp, title in (("ab", "A/B: two-stage feed (control) vs popularity"),
                       ("aa", "A/A: two identical variants")):
        r = results[exp]
        srm = "n/a" if r["srmPValue"] is None else f"{r['srmPValue']:.3f}"
        lines += [f"**{title}.** SRM p = {srm} "
                  f"(mismatch: {r['sampleRatioMismatch']}); warnings: "
                  f"{'; '.join(r['warnings']) or 'none'}.", "",
                  "| variant | viewers | impressions | attributed views | CTR | watch s / impression "
                  "| CTR vs control (95% CI) | watch s / impression vs control (95% CI) |",
                  "|---|---|---|---|---|---|---|---|"]
        for v in r["variants"]:
            lines.append(
                f"| {v['name']} | {v['viewers']} | {v['impressions']} | {v['attributedViews']} | "
                f"{(v['ctr'] or 0):.4f} | {(v['watchSecondsPerImpression'] or 0):.2f} | "
                f"{_ci(v['ctrVsControl'])} | {_ci(v['watchSecondsPerImpressionVsControl'])} |")
        lines.append("")
    lines += ["**Impression discounting off vs on** (FEED_IMPRESSION_LIMIT 0 vs 3; separate "
              f"halves of the viewers, {args.sessions} sessions of one page each; bootstrap 95% CIs "
              "over viewers).", "",
              "| discounting | viewers | distinct videos shown per viewer | CTR |", "|---|---|---|---|"]
    for name, a in arms.items():
        lines.append(f"| {name} | {a['viewers']} | {a['distinct']:.1f} "
                     f"[{a['distinct_ci'][0]:.1f}, {a['distinct_ci'][1]:.1f}] | {a['ctr']:.4f} "
                     f"[{a['ctr_ci'][0]:.4f}, {a['ctr_ci'][1]:.4f}] |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
