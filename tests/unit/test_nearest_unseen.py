"""The evaluation's plain nearest-unseen search (its mean-vector and item-to-item
baselines): horizon, exclusions, floor, widening."""
from __future__ import annotations

import asyncio
import uuid

import numpy as np

from killrvideo_reco.domain.models import Candidate, VideoSummary
from killrvideo_reco.evaluation import nearest_unseen as search
from tests.fakes import FakeViewerStore
from tests.unit.test_feed_service import DIM, catalogue


def candidate(score, video_id=None):
    video_id = video_id or uuid.uuid4()
    return Candidate(VideoSummary(video_id, "t", None, None, (), None, None), score)


def test_first_limit_overfetches_on_a_doubling_schedule():
    assert search.first_ann_limit(10, 2.0, 50, 1000) == 50
    assert search.first_ann_limit(30, 2.0, 50, 1000) == 100
    assert search.first_ann_limit(300, 2.0, 50, 1000) == 800
    assert search.first_ann_limit(900, 2.0, 50, 1000) == 1000


def test_growth_stops_at_the_cap():
    assert search.next_ann_limit(400, 1000) == 800
    assert search.next_ann_limit(800, 1000) == 1000
    assert search.next_ann_limit(1000, 1000) is None


def test_exhausted_when_catalogue_returned_whole_or_tail_below_floor():
    rows = [candidate(0.9), candidate(0.5)]
    assert search.horizon_exhausted(rows, 10, 0.0)
    assert not search.horizon_exhausted(rows, 2, 0.0)
    assert search.horizon_exhausted(rows, 2, 0.6)


def test_recommendable_drops_seen_and_below_floor_and_orders_deterministically():
    a, b, c, d = (uuid.UUID(int=i) for i in (1, 2, 3, 4))
    rows = [candidate(0.5, b), candidate(0.9, a), candidate(0.5, c), candidate(0.1, d)]
    kept = search.recommendable(rows, seen={a}, similarity_floor=0.2)
    assert [k.summary.video_id for k in kept] == [b, c]


def test_the_search_widens_the_horizon_until_enough_are_unseen():
    videos, ids = catalogue(400)
    viewers = FakeViewerStore()
    user = uuid.uuid4()
    for video_id in ids[:120]:  # the 120 nearest are already watched
        viewers.watch(user, video_id)
    axis = np.eye(DIM, dtype=np.float32)[0]

    found = asyncio.run(search.nearest_unseen(videos, viewers, user, axis, 10, 0.0, 1000))

    assert [c.summary.video_id for c in found][:10] == ids[120:130]
    assert videos.nearest_limits == [50, 100, 200], "doubles until enough unseen are found"
