"""Related videos on in-memory stores: nearest first, the video itself and what the viewer
saw left out, unknown videos refused."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

import numpy as np
import pytest

from killrvideo_reco.domain.models import NewVideo
from killrvideo_reco.service.related import RelatedVideos, UnknownVideo
from tests.fakes import FakeVideoStore, FakeViewerStore


def world():
    videos, viewers = FakeVideoStore(), FakeViewerStore()
    ids = []
    for n in range(12):
        vector = np.zeros(4, dtype=np.float32)
        vector[0], vector[1] = 1.0, n / 10  # video k+1 is the next nearest to video k
        video = NewVideo(uuid.uuid4(), uuid.uuid4(), f"v{n}", "", (), None,
                         datetime.now(timezone.utc), None, 600, vector, "m")
        asyncio.run(videos.add(video))
        ids.append(video.video_id)
    return videos, viewers, ids


def test_nearest_in_content_space_without_the_video_or_what_the_viewer_saw():
    videos, viewers, ids = world()
    related = RelatedVideos(videos, viewers)
    anonymous = asyncio.run(related.related(ids[0], 3))
    assert [r.summary.video_id for r in anonymous] == ids[1:4]
    assert all(r.space == "content" and r.reason == "Similar to v0" for r in anonymous)
    assert [r.similarity for r in anonymous] == sorted((r.similarity for r in anonymous),
                                                       reverse=True)
    viewer = uuid.uuid4()
    viewers.watch(viewer, ids[1])
    viewers.watch(viewer, ids[3])
    theirs = asyncio.run(related.related(ids[0], 3, viewer))
    assert [r.summary.video_id for r in theirs] == [ids[2], ids[4], ids[5]]


def test_an_unknown_video_is_refused():
    videos, viewers, _ = world()
    with pytest.raises(UnknownVideo):
        asyncio.run(RelatedVideos(videos, viewers).related(uuid.uuid4(), 5))
