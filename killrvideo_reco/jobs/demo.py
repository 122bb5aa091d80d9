"""`make run` demo data: a templated catalogue over distinct topics, embedded with the
configured model, and demo viewers whose histories favour different topics."""
from __future__ import annotations

import asyncio
import itertools
import logging
import random
import uuid
from datetime import datetime, timedelta, timezone

from killrvideo_reco.auth import mint
from killrvideo_reco.bootstrap import build_resources
from killrvideo_reco.domain.models import HistoryRow, NewVideo
from killrvideo_reco.embeddings.factory import build_provider
from killrvideo_reco.embeddings.provider import video_text
from killrvideo_reco.jobs.progress import Progress
from killrvideo_reco.jobs.train import run_training

log = logging.getLogger(__name__)
DEMO_NAMESPACE = uuid.UUID("6f1c2b1e-0d6a-4c1e-9a57-4b1d3c0de000")
DEMO_VERSION = "demo-v3"
COMMUNITY = 300  # synthetic viewers whose co-watching the behaviour model learns from
HEAD = 60  # per topic, the videos most of the community watches
# Topic pairs that community viewers like together (carlos's two tastes among them).
PAIRS = [("cooking", "gardening"), ("databases", "guitar"), ("astronomy", "fitness")]
DEMO_MARKER = "demo_data"  # service_metadata key: which demo data is loaded

TOPICS: dict[str, tuple[list[str], list[str], list[str]]] = {
    # topic: (subjects, formats, tags)
    "databases": (["Cassandra data modeling", "partition keys", "SAI indexes", "vector search in CQL",
                   "compaction strategies", "lightweight transactions", "replication and consistency",
                   "time-series tables", "secondary indexes", "query-first schema design"],
                  ["Introduction to", "Deep dive:", "Common mistakes with", "Benchmarking",
                   "Production tips for", "Live coding:"], ["cassandra", "databases", "nosql"]),
    "cooking": (["sourdough bread", "fresh pasta", "Thai green curry", "French omelette",
                 "knife skills", "cast-iron steak", "vegetable stock", "chocolate soufflé",
                 "ramen broth", "fermented kimchi"],
                ["How to make", "Beginner's guide to", "Chef secrets:", "15-minute",
                 "Weekend project:", "Mistakes to avoid with"], ["cooking", "recipes", "kitchen"]),
    "astronomy": (["the Andromeda galaxy", "Jupiter's moons", "black holes", "the life of stars",
                   "exoplanet detection", "meteor showers", "the James Webb telescope",
                   "dark matter", "the Moon's phases", "neutron stars"],
                  ["Explained:", "Observing", "The science of", "Night sky tour:",
                   "What we know about", "Backyard astronomy:"], ["astronomy", "space", "science"]),
    "guitar": (["barre chords", "fingerpicking patterns", "blues scales", "alternate picking",
                "jazz voicings", "tuning by ear", "pentatonic solos", "strumming rhythms",
                "acoustic setup", "metal riffs"],
               ["Guitar lesson:", "Practice routine for", "Master", "Beginner guitar:",
                "Play along:", "Tone tips for"], ["guitar", "music", "lessons"]),
    "fitness": (["kettlebell swings", "marathon training", "mobility routines", "bodyweight squats",
                 "HIIT intervals", "deadlift form", "yoga for runners", "core strength",
                 "recovery days", "pull-up progressions"],
                ["Workout:", "Coach explains", "30-day plan for", "Form check:",
                 "Science of", "At-home"], ["fitness", "training", "health"]),
    "gardening": (["tomato seedlings", "composting", "raised beds", "pruning roses",
                   "growing herbs indoors", "soil health", "companion planting", "seed saving",
                   "organic pest control", "winter vegetables"],
                  ["Garden guide:", "How to start", "Seasonal tips for", "Beginner gardening:",
                   "Troubleshooting", "Allotment diary:"], ["gardening", "plants", "outdoors"]),
}

VIEWERS = {
    # name: (favourite topics, a topic they bounce off)
    "dana": (["databases"], "cooking"),
    "carlos": (["cooking", "gardening"], "databases"),
    "ada": (["astronomy"], "fitness"),
}


def demo_catalogue(per_topic: int, rng: random.Random) -> list[tuple[str, str, str, list[str]]]:
    """(topic, title, description, tags) rows, per_topic for each topic."""
    rows = []
    for topic, (subjects, formats, tags) in TOPICS.items():
        combos = list(itertools.product(formats, subjects))
        rng.shuffle(combos)
        for n in range(per_topic):
            fmt, subject = combos[n % len(combos)]
            part = f" (part {n // len(combos) + 1})" if n >= len(combos) else ""
            title = f"{fmt} {subject}{part}"
            closing = rng.choice(['Step by step', 'With examples', 'For all levels', 'Q&A at the end'])
            description = f"A {topic} video about {subject}. {closing}."
            rows.append((topic, title, description, tags + [subject.split()[-1].lower()]))
    return rows


def viewer_id(name: str) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, f"viewer:{name}")


# The accounts `make run` prints tokens for, and the console offers in DEV_MODE: the demo
# viewers, a newcomer with no history, and an operator with the moderator role.
DEMO_ACCOUNTS = {**{name: "viewer" for name in VIEWERS}, "newcomer": "viewer",
                 "operator": "moderator"}


def demo_token(settings, name: str, ttl_s: int = 86400) -> str:
    """A token for demo account `name` (KeyError if there is none)."""
    return mint(settings, viewer_id(name), [DEMO_ACCOUNTS[name]], ttl_s=ttl_s)


async def _load(resources, embedder, per_topic: int) -> None:
    rng = random.Random(7)
    rows = demo_catalogue(per_topic, rng)
    uploaders = {topic: [uuid.uuid5(DEMO_NAMESPACE, f"channel:{topic}:{i}") for i in range(5)]
                 for topic in TOPICS}
    progress = Progress("demo catalogue", len(rows), item_name="videos")
    now = datetime.now(timezone.utc)
    by_topic: dict[str, list[tuple[uuid.UUID, str]]] = {t: [] for t in TOPICS}
    for start in range(0, len(rows), 64):
        batch = rows[start:start + 64]
        vectors = await asyncio.to_thread(
            embedder.embed, [video_text(title, desc, tags) for _, title, desc, tags in batch])
        videos = []
        for (topic, title, desc, tags), vector in zip(batch, vectors):
            video_id = uuid.uuid5(DEMO_NAMESPACE, f"video:{title}:{len(by_topic[topic])}")
            by_topic[topic].append((video_id, title))
            videos.append(NewVideo(
                video_id, rng.choice(uploaders[topic]), title, desc, tuple(tags),
                f"https://cdn.killrvideo.example/thumbs/{video_id}.jpg",
                now - timedelta(minutes=rng.randint(0, 60 * 24 * 60)), topic,
                rng.choice([300, 600, 900, 1200]), vector, embedder.model_id))
        await asyncio.gather(*(resources.videos.add(v) for v in videos))
        progress.advance(steps=len(batch), items=len(batch))
    await resources.videos.set_catalogue_model(embedder.model_id)
    for name, (favourites, disliked) in VIEWERS.items():
        user = viewer_id(name)
        liked = [v for topic in favourites for v in rng.sample(by_topic[topic], 8)]
        for n, (video_id, _) in enumerate(liked):
            await resources.activity.record_view(user, video_id, f"demo-{n}", 560, 600,
                                                 now - timedelta(days=n))
        for n, (video_id, _) in enumerate(rng.sample(by_topic[disliked], 2)):
            await resources.activity.record_view(user, video_id, f"demo-bounce-{n}", 20, 600)
    await resources.viewers.import_watches(community_watches(by_topic, rng, now))
    # Background viewers make a "trending" list for cold-start viewers.
    everything = [v for videos in by_topic.values() for v in videos]
    for n in range(60):
        video_id, _ = rng.choice(everything[: len(everything) // 3])
        await resources.activity.record_view(uuid.uuid5(DEMO_NAMESPACE, f"bg:{n % 12}"),
                                             video_id, f"bg-{n}", 300, 600)


def community_watches(by_topic, rng: random.Random, now: datetime):
    """(viewer, history row) for COMMUNITY synthetic viewers. Each likes one topic or one
    of PAIRS; most of their watches come from that topic's most-watched videos (its
    first HEAD), the rest from anywhere in the topic, so the history has co-watching
    structure without one global chart dominating it."""
    rows = []
    topics = list(by_topic)
    for n in range(COMMUNITY):
        user = uuid.uuid5(DEMO_NAMESPACE, f"community:{n}")
        liked = list(PAIRS[n % len(PAIRS)]) if n % 3 == 0 else [topics[n % len(topics)]]
        picked: set[uuid.UUID] = set()
        for _ in range(rng.randint(10, 25)):
            pool = by_topic[rng.choice(liked)]
            video_id, _ = rng.choice(pool[:HEAD] if rng.random() < 0.7 else pool)
            if video_id in picked:
                continue
            picked.add(video_id)
            at = now - timedelta(days=rng.uniform(0, 120))
            rows.append((user, HistoryRow(video_id, at, at, 1, 540.0, 600.0)))
    return rows


async def _load_once(resources, embedder, settings, per_topic: int) -> None:
    wanted = f"{DEMO_VERSION}:{embedder.model_id}"
    if await resources.metadata.get(DEMO_MARKER) == wanted:
        print("demo: data already loaded (delete the keyspace to reload)")
        return
    await _load(resources, embedder, per_topic)
    summary = await run_training(resources, settings)
    print(f"demo: trained behaviour run {summary['runId']} on "
          f"{summary['quality']['positives']} watches")
    await resources.metadata.set(DEMO_MARKER, wanted)


def load_demo(settings, per_topic: int = 500) -> int:
    embedder = build_provider(settings)
    resources = build_resources(settings, embedder)
    try:
        asyncio.run(_load_once(resources, embedder, settings, per_topic))
    finally:
        resources.close()
    base = f"http://{settings.host}:{settings.port}"
    print("\nDemo viewers (tokens valid 24h):")
    for name, (favourites, _) in {**VIEWERS, "newcomer": ([], "")}.items():
        token = demo_token(settings, name)
        taste = ", ".join(favourites) or "no history: cold start"
        print(f"\n  {name} ({taste})\n  curl -s -H 'Authorization: Bearer {token}' "
              f"'{base}/api/v1/recommendations/foryou?pageSize=5'")
    print(f"\nOperator console: {base}/console (DEV_MODE: pick the 'operator' account)")
    print(f"OpenAPI docs: {base}/docs\n")
    return 0
