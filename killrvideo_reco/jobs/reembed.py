"""`make reembed`: re-embed the whole catalogue with the configured provider, then
rebuild every profile.

Order matters: vectors are rewritten first, the catalogue's model id is switched
after (until then profiles built with the old model still match), and profiles are
rebuilt last (between the switch and the rebuild, viewers get cold start, never a
profile from another model). A dimension change recreates the vector tables.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

from killrvideo_reco.bootstrap import build_resources, prepare_vector_tables
from killrvideo_reco.domain.models import NewVideo, VideoDetails
from killrvideo_reco.domain.vectors import checked_vector
from killrvideo_reco.embeddings.factory import build_provider
from killrvideo_reco.embeddings.provider import video_text
from killrvideo_reco.jobs.profiles import checkpoint_file, rebuild_profiles
from killrvideo_reco.jobs.progress import Progress

log = logging.getLogger(__name__)
BATCH = 64


async def _embed_rows(rows: list[VideoDetails], embedder, write, progress: Progress) -> int:
    """Embed videos in batches and hand each (video, vector) to `write`."""
    done = 0
    for start in range(0, len(rows), BATCH):
        batch = rows[start:start + BATCH]
        texts = [video_text(r.summary.title, r.summary.description or "", r.summary.tags)
                 for r in batch]
        vectors = await asyncio.to_thread(embedder.embed, texts)
        await asyncio.gather(*(write(row, checked_vector(vector, embedder.dimension))
                               for row, vector in zip(batch, vectors)))
        done += len(batch)
        progress.advance(steps=len(batch), items=len(batch))
    return done


async def reembed(resources, embedder, settings, recreated: bool) -> dict:
    videos = resources.videos
    if recreated:
        rows = await resources.vector_tables.backed_up_videos()

        async def write(row: VideoDetails, vector):
            s = row.summary
            await videos.add(NewVideo(
                s.video_id, s.uploader_id, s.title, s.description or "", s.tags,
                s.thumbnail_url, s.added_date or datetime.now(timezone.utc), row.category,
                row.duration_s, vector, embedder.model_id))
    else:
        rows = [r for r in await videos.scan_details() if r.embedding_model != embedder.model_id]

        async def write(row: VideoDetails, vector):
            await videos.set_vector(row.summary.video_id, vector, embedder.model_id)

    log.info("re-embedding %d videos with %s", len(rows), embedder.model_id)
    progress = Progress("reembed", max(len(rows), 1), item_name="videos")
    count = await _embed_rows(rows, embedder, write, progress)
    if not rows:
        progress.advance(steps=1)
    await videos.set_catalogue_model(embedder.model_id)
    resources.feed.fallback.invalidate()
    if recreated:
        await resources.vector_tables.drop_backup()
    profiles = await rebuild_profiles(videos, resources.viewers, resources.activity,
                                      checkpoint_path=checkpoint_file(settings.cassandra_keyspace))
    return {"videos": count, "modelId": embedder.model_id, "profiles": profiles}


def reembed_catalogue(settings) -> int:
    embedder = build_provider(settings)
    recreate = prepare_vector_tables(settings)
    resources = build_resources(settings, embedder)
    try:
        summary = asyncio.run(reembed(resources, embedder, settings, recreate))
    finally:
        resources.close()
    print(f"reembed: {summary['videos']} videos now use {summary['modelId']}; "
          f"{summary['profiles']['users']} profiles rebuilt "
          f"({summary['profiles']['usersPerSecond']} users/s)")
    return 0
