"""Test data helpers: videos with known vectors, tokens, raw history rows."""
from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta, timezone

import numpy as np
from cassandra.concurrent import execute_concurrent_with_args

from killrvideo_reco.auth import mint
from killrvideo_reco.domain.models import NewVideo
from killrvideo_reco.store.videos import VideoStore

MODEL = "hashing-v1:384"


def unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def cluster_vectors(rng, centre, count, spread=0.3):
    """Unit vectors around `centre`; `spread` is the noise's expected norm."""
    scale = spread / np.sqrt(centre.shape[0])
    return [unit(centre + scale * rng.normal(size=centre.shape[0])) for _ in range(count)]


def auth(settings, user_id, roles=("viewer",)):
    return {"Authorization": f"Bearer {mint(settings, user_id, list(roles))}"}


def add_videos(settings, session, vectors, titles=None, model=MODEL, added=None):
    """Insert videos straight through the store; returns their ids in order."""
    store = VideoStore(session, settings.cassandra_keyspace)
    now = added or datetime.now(timezone.utc)
    videos = [NewVideo(uuid.uuid4(), uuid.uuid4(), (titles[i] if titles else f"video {i}"),
                       f"description {i}", ("test",), f"https://cdn.example/{i}.jpg",
                       now - timedelta(seconds=i), None, 600, vector, model)
              for i, vector in enumerate(vectors)]

    async def run():
        for start in range(0, len(videos), 200):
            await asyncio.gather(*(store.add(v) for v in videos[start:start + 200]))
        if await store.catalogue_model() is None:
            await store.set_catalogue_model(model)

    asyncio.run(run())
    return [v.video_id for v in videos]


def mark_watched(settings, session, user_id, video_ids):
    statement = session.prepare(
        f"INSERT INTO {settings.cassandra_keyspace}.viewer_history (userid, videoid, first_watched, "
        "last_watched, play_count, seconds_watched) VALUES (?, ?, ?, ?, 1, 300)")
    now = datetime.now(timezone.utc)
    execute_concurrent_with_args(session, statement,
                                 [(user_id, v, now, now) for v in video_ids], concurrency=64)


def set_profile(settings, session, user_id, vector, model=MODEL):
    session.execute(session.prepare(
        f"INSERT INTO {settings.cassandra_keyspace}.user_preferences (userid, preference_vector, "
        "model_id, item_count, last_updated) VALUES (?, ?, ?, 5, toTimestamp(now()))"),
        (user_id, np.asarray(vector, dtype=np.float32), model))


def wait_for_job(api, job_id: str, headers: dict, timeout_s: float, poll_s: float) -> dict:
    """Poll GET /admin/jobs/{id} until the job stops running (or the time is up)."""
    deadline, body = time.monotonic() + timeout_s, {}
    while time.monotonic() < deadline:
        body = api.get(f"/api/v1/admin/jobs/{job_id}", headers=headers).json()
        if body["status"] != "running":
            break
        time.sleep(poll_s)
    return body


def eventually(check, timeout_s: float = 15.0):
    """The writes are off the request path: poll until `check()` is truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


# Three topics whose texts the hashing embedder keeps apart.
TOPICS = {"db": "Cassandra partition keys compaction and data modeling for tables",
          "space": "Telescopes galaxies nebulae and black holes in deep space",
          "food": "Sourdough bread baking pasta and curry recipes in the kitchen"}


async def topic_world(resources, rng) -> tuple[dict[str, list[uuid.UUID]], dict[str, list[uuid.UUID]]]:
    """12 videos per topic; 15 viewers per topic who each watch 6 of its videos through
    the view path. Returns (video ids, viewer ids) by topic."""
    ids = {t: [(await resources.catalogue.add_video(
        uuid.uuid4(), f"{text} episode {n}", text, [t], None, None, 600, None)).video_id
        for n in range(12)] for t, text in TOPICS.items()}
    viewers: dict[str, list[uuid.UUID]] = {}
    for t in TOPICS:
        viewers[t] = []
        for _ in range(15):
            user = uuid.uuid4()
            for n in rng.choice(12, 6, replace=False):
                await resources.activity.record_view(user, ids[t][n], f"{user}-{n}", 580, 600)
            viewers[t].append(user)
    return ids, viewers
