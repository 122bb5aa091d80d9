"""Content neighbour lists on a real Cassandra: an upload computes its own, and the feed's
interest source reads them by key (issue "The feed at the cost of one ANN query")."""
from __future__ import annotations

import asyncio
import time
import uuid

import numpy as np
import pytest

from killrvideo_reco.bootstrap import build_stores, services_on
from killrvideo_reco.domain.interests import Interest
from killrvideo_reco.embeddings.factory import build_provider
from tests.integration.seeding import MODEL, add_videos, cluster_vectors, unit

pytestmark = pytest.mark.integration


def test_an_upload_lists_its_nearest_videos_and_interests_read_them(cassandra):
    settings, session = cassandra
    rng = np.random.default_rng(5)
    centre = unit(rng.normal(size=settings.vector_dimension))
    near = add_videos(settings, session, cluster_vectors(rng, centre, 30, spread=0.2))
    add_videos(settings, session, rng.normal(size=(60, settings.vector_dimension)))
    stores = build_stores(session, settings.cassandra_keyspace)
    services = services_on(stores, settings, build_provider(settings))

    async def run():
        video = await services.catalogue.add_video(
            uuid.uuid4(), "new upload", "", (), None, None, 600, list(map(float, centre)))
        stored = await stores.neighbours.neighbour_lists([video.video_id], "content")
        assert video.video_id in stored, "the upload computed its list"
        listed = stored[video.video_id]
        assert listed.version == MODEL and video.video_id not in listed.video_ids
        assert set(listed.video_ids[:20]) <= set(near)  # its own topic first
        assert list(listed.similarities) == sorted(listed.similarities, reverse=True)

        # An interest whose medoid has no list yet gets one on first use, stored.
        medoid = near[0]
        vector = (await stores.videos.vectors([medoid]))[medoid]
        interest = Interest(medoid, unit(vector).astype(np.float32), 1.0, time.time(), 1)
        neighbours = services.feed.neighbours
        assert neighbours is not None
        first = await neighbours.lists([interest], MODEL)
        again = await stores.neighbours.neighbour_lists([medoid], "content")
        assert first[medoid].video_ids == again[medoid].video_ids
        assert len(again[medoid].video_ids) == min(settings.feed_neighbours, 90)  # all others

    asyncio.run(run())


def test_a_video_read_twice_from_cassandra_is_one_id_object(cassandra):
    """The driver decodes uuid columns through the shared table (store/uuid_codec.py)."""
    settings, session = cassandra
    video = add_videos(settings, session, np.ones((1, settings.vector_dimension)))[0]
    read = f"SELECT videoid FROM {settings.cassandra_keyspace}.videos WHERE videoid = %s"

    first = session.execute(read, (video,)).one().videoid
    second = session.execute(read, (video,)).one().videoid

    assert first == video and first is second
