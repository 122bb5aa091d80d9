"""NeighbourRepository: the same behaviour from the fake and Cassandra."""
from __future__ import annotations

import asyncio
import uuid

import numpy as np

from killrvideo_reco.domain.models import NeighbourList


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_list_reads_back_whole_by_video_and_space(stores):
    video, other = uuid.uuid4(), uuid.uuid4()
    ids = tuple(uuid.uuid4() for _ in range(5))
    written = NeighbourList("model-x", 1_700_000_000.5, ids,
                            np.array([0.9, 0.8, 0.5, 0.1, -0.2], dtype=np.float32))
    run(stores.neighbours.write_neighbours(video, "content", written))
    found = run(stores.neighbours.neighbour_lists([video, other], "content"))
    assert set(found) == {video}  # a video without a list is simply absent
    got = found[video]
    assert (got.version, got.video_ids) == ("model-x", ids)
    assert abs(got.computed_at - written.computed_at) < 0.002  # timestamp: milliseconds
    np.testing.assert_allclose(got.similarities, written.similarities)
    assert run(stores.neighbours.neighbour_lists([video], "behaviour")) == {}


def test_a_new_list_replaces_the_old_one(stores):
    video = uuid.uuid4()
    for version, ids in (("m1", (uuid.uuid4(), uuid.uuid4())), ("m2", (uuid.uuid4(),))):
        run(stores.neighbours.write_neighbours(video, "content", NeighbourList(
            version, 1.0e9, ids, np.ones(len(ids), dtype=np.float32))))
    got = run(stores.neighbours.neighbour_lists([video], "content"))[video]
    assert got.version == "m2" and len(got.video_ids) == 1
