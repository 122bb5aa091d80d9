import uuid

import numpy as np
import pytest

from killrvideo_reco.domain.explanations import RecentVideo, based_on_for_items, decode_recent, encode_recent
from killrvideo_reco.domain.vectors import InvalidVector, checked_vector


def unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_recent_blob_round_trips():
    entries = [RecentVideo(uuid.uuid4(), "Déjà vu – ünïcode", unit([1, 2, 3])),
               RecentVideo(uuid.uuid4(), "", unit([0, 0, 1]))]
    decoded = decode_recent(encode_recent(entries))
    assert [(e.video_id, e.title) for e in decoded] == [(e.video_id, e.title) for e in entries]
    for got, want in zip(decoded, entries):
        np.testing.assert_array_equal(got.unit_vector, want.unit_vector)


def test_recent_blob_is_float16_when_that_loses_nothing():
    rounded = [RecentVideo(uuid.uuid4(), "a", unit([1, 2, 3]).astype(np.float16).astype(np.float32))]
    exact = [RecentVideo(uuid.uuid4(), "a", unit([1, 2, 3]))]
    assert len(encode_recent(rounded)) == len(encode_recent(exact)) - 3 * 2
    np.testing.assert_array_equal(decode_recent(encode_recent(rounded))[0].unit_vector,
                                  rounded[0].unit_vector)


def test_based_on_picks_closest_recent_videos_best_first():
    x, y, z = (RecentVideo(uuid.uuid4(), name, unit(v))
               for name, v in (("x", [1, 0, 0]), ("y", [0, 1, 0]), ("z", [0.7, 0.7, 0])))
    [first, second, none] = based_on_for_items(
        [np.array([1.0, 0.1, 0.0]), np.array([0.0, 1.0, 0.0]), None], [x, y, z], limit=2)
    assert [b.title for b in first] == ["x", "z"]
    assert [b.title for b in second] == ["y", "z"]
    assert none == []


def test_based_on_respects_min_similarity():
    x = RecentVideo(uuid.uuid4(), "x", unit([1, 0]))
    assert based_on_for_items([np.array([-1.0, 0.0])], [x], min_similarity=0.0) == [[]]


@pytest.mark.parametrize("values, message", [
    ([1.0, 2.0], "has 2 dimensions; the index expects 3"),
    ([0.0, 0.0, 0.0], "all zeros"),
    ([1.0, float("nan"), 0.0], "NaN or infinite values (first at index 1)"),
    ([1.0, 0.0, float("-inf")], "first at index 2"),
    ([1e39, 0.0, 0.0], "too large for float32"),
    ([[1.0, 2.0, 3.0]], "flat list"),
])
def test_checked_vector_says_what_is_wrong(values, message):
    with pytest.raises(InvalidVector) as error:
        checked_vector(values, 3)
    assert message in str(error.value)


def test_checked_vector_returns_float32():
    vector = checked_vector([1, 2, 3], 3)
    assert vector.dtype == np.float32 and vector.tolist() == [1.0, 2.0, 3.0]


def test_packed_uuids_decode_to_ordinary_uuids():
    import os
    import uuid

    import pytest

    from killrvideo_reco.domain.uuids import uuids_of

    blob = os.urandom(16 * 50) + uuid.UUID(int=0).bytes + b"\xff" * 16
    decoded = uuids_of(blob)
    expected = tuple(uuid.UUID(bytes=blob[i:i + 16]) for i in range(0, len(blob), 16))
    assert decoded == expected
    assert [hash(u) for u in decoded] == [hash(u) for u in expected]
    assert {u: n for n, u in enumerate(decoded)} == {u: n for n, u in enumerate(expected)}
    assert [str(u) for u in decoded] == [str(u) for u in expected]
    assert uuids_of(b"") == ()
    with pytest.raises(ValueError):
        uuids_of(blob[:-1])
