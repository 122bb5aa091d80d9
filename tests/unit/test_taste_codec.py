"""The taste state's stored form (killrvideo_reco.domain.taste_codec, taste_head): an exact
round trip, recent likes and medoids by reference, bounded size, refused bad input."""
from __future__ import annotations

import math
import struct
import uuid

import numpy as np
import pytest

from killrvideo_reco.domain.taste_head import StoredHead, applied_unit
from killrvideo_reco.domain.taste_profile import (
    Interaction,
    OutdatedState,
    TasteState,
    apply_change,
    build_state,
    decode_channel,
    empty_state,
    encode_channel,
)
from tests.unit.test_taste_profile import DAY, T0, D, P, axis, hide, watch

# --- serialization ------------------------------------------------------------------------

_RICH: list[Interaction] = []  # the videos _rich_state watched: the test's catalogue


def _rich_state() -> TasteState:
    ch = uuid.uuid4()
    ws = [watch(axis(0), 700.0, uploader=ch, at=T0, title="Cassandra 101"),
          watch(axis(1), 400.0, uploader=ch, at=T0 + 3 * DAY, title="Vector search ✓"),
          watch(axis(2), 200.0, at=T0 + DAY), watch(axis(3), 5.0),
          hide(axis(4), at=T0 + 2 * DAY), watch(np.ones(D), 900.0, at=T0 - DAY, uploader=ch)]
    _RICH[:] = ws
    s = build_state(ws[:5], P, D)
    return apply_change(s, None, ws[5], P)


def catalogue(interactions) -> dict:
    """video id -> (title, applied vector), as the service's reference cache holds them."""
    return {i.video_id: (i.title, applied_unit(i.embedding)) for i in interactions}


def _stored(s: TasteState) -> tuple[bytes, dict[str, bytes]]:
    """What the store writes: the head, and one cell per channel."""
    return s.to_bytes(), {k: encode_channel(ch) for k, ch in s.channels.items()}


def _restored(head: bytes, cells: dict[str, bytes], videos=None) -> TasteState:
    stored = StoredHead.from_bytes(head)
    state = stored.resolve(catalogue(_RICH) if videos is None else videos, P)
    return state.with_channels({k: decode_channel(c, state.dimension) for k, c in cells.items()})


def test_serialization_round_trip_is_exact():
    s = _rich_state()
    assert len(s.recent_positive) == 4 and s.interests
    head, cells = _stored(s)
    back = _restored(head, cells)
    assert back == s
    assert all(a.same_as(b) for a, b in zip(back.interests, s.interests, strict=True))
    assert back.to_bytes() == head
    assert back.recent_positive[0].title == "Vector search ✓"
    np.testing.assert_array_equal(back.preference_vector(P), s.preference_vector(P))
    # the head alone gives the profile: the feed's vector needs no channel nor reference
    np.testing.assert_array_equal(StoredHead.from_bytes(head).preference_vector(P),
                                  s.preference_vector(P))
    e = empty_state(D)
    assert StoredHead.from_bytes(e.to_bytes()).resolve({}, P) == e
    assert s != e


def test_the_head_stores_recent_likes_and_medoids_by_reference():
    s = _rich_state()
    stored = StoredHead.from_bytes(s.to_bytes())
    assert [r.video_id for r in stored.recent] == [r.video_id for r in s.recent_positive]
    assert set(stored.references()) == ({r.video_id for r in s.recent_positive}
                                         | {i.medoid_id for i in s.interests})
    # 384-d, 20 likes, 3 interests: the vectors are not in the head
    rng = np.random.default_rng(3)
    likes = [watch(rng.normal(size=384), at=T0 + k, uploader=uuid.uuid4()) for k in range(40)]
    big = build_state(likes, P, 384)
    assert len(big.recent_positive) == 20
    assert len(big.to_bytes()) < 2 * 8 * 384 + 1024, "two float64 sums and small entries"


def test_a_deleted_recent_like_is_dropped_and_its_interest_repicked():
    s = _rich_state()
    gone = s.interests[0].medoid_id
    assert gone in {r.video_id for r in s.recent_positive}
    videos = {v: found for v, found in catalogue(_RICH).items() if v != gone}
    back = _restored(*_stored(s), videos=videos)
    assert [r.video_id for r in back.recent_positive] == [
        r.video_id for r in s.recent_positive if r.video_id != gone]
    assert gone not in {i.medoid_id for i in back.interests}
    assert back.interests and {i.medoid_id for i in back.interests} <= {
        r.video_id for r in back.recent_positive}
    # the sums are untouched until the next rebuild from history
    np.testing.assert_array_equal(back.preference_vector(P), s.preference_vector(P))
    assert (back.positive_count(), back.channels.keys()) == (s.positive_count(),
                                                             s.channels.keys())
    # a video re-embedded with another dimension is unresolvable too, never an error
    other = {**videos, gone: ("re-embedded", np.ones(D + 1))}
    assert gone not in {r.video_id for r in _restored(*_stored(s), videos=other)
                        .recent_positive}


def test_a_deleted_video_that_is_no_medoid_keeps_the_interests():
    s = _rich_state()
    medoids = {i.medoid_id for i in s.interests}
    gone = next(r.video_id for r in s.recent_positive if r.video_id not in medoids)
    videos = {v: found for v, found in catalogue(_RICH).items() if v != gone}
    back = _restored(*_stored(s), videos=videos)
    assert gone not in {r.video_id for r in back.recent_positive}
    assert all(a.same_as(b) for a, b in zip(back.interests, s.interests, strict=True))


def test_serialization_format_header():
    s = _rich_state()
    data = s.to_bytes()
    magic, version, fp, dim = struct.unpack_from("<4sHII", data)
    assert (magic, version, fp, dim) == (b"KVTS", 7, P.fingerprint(), D)
    ref, floor, neg_mass = struct.unpack_from("<ddd", data, 14)
    assert ref == s.reference_time and floor == -math.inf and neg_mass == s.negative_mass


@pytest.mark.parametrize("layout", [4, 5])
def test_older_layouts_ask_for_a_rebuild(layout):
    head = bytearray(_rich_state().to_bytes())
    head[4:6] = struct.pack("<H", layout)
    with pytest.raises(OutdatedState):
        StoredHead.from_bytes(bytes(head))


def test_the_head_does_not_grow_with_the_history():
    rng = np.random.default_rng(7)
    dim = 384
    creators = [uuid.uuid4() for _ in range(300)]

    def likes(n):
        return [watch(rng.normal(size=dim), at=T0 + k, uploader=creators[k % 300])
                for k in range(n)]
    small, large = build_state(likes(20), P, dim), build_state(likes(2000), P, dim)
    assert len(large.channels) == 300 and len(small.channels) == 20
    assert len(large.to_bytes()) <= len(small.to_bytes()) * 1.1


def test_one_video_channels_are_stored_in_float16_without_loss():
    rng = np.random.default_rng(7)
    dim = 384
    creators = [uuid.uuid4() for _ in range(50)]
    likes = [watch(rng.normal(size=dim), at=T0 + k, uploader=creators[k]) for k in range(50)]
    state = build_state(likes, P, dim)
    head, cells = _stored(state)
    again = _restored(head, cells, catalogue(likes))
    assert again == state
    np.testing.assert_array_equal(again.preference_vector(P), state.preference_vector(P))
    assert all(len(c) < 2 * dim + 32 for c in cells.values())  # mass x float16 unit
    more = watch(rng.normal(size=dim), at=T0 + 60, uploader=creators[0])
    grown = apply_change(state, None, more, P)
    assert grown.channels[str(creators[0])].count == 2
    assert len(encode_channel(grown.channels[str(creators[0])])) > 8 * dim  # float64 again
    assert _restored(*_stored(grown), catalogue([*likes, more])) == grown


@pytest.mark.parametrize("mangle", [
    lambda b: b"XXXX" + b[4:],
    lambda b: b[:4] + struct.pack("<H", 99) + b[6:],
    lambda b: b[:-1],
    lambda b: b + b"\0",
    lambda b: b"",
])
def test_deserialization_rejects_bad_input(mangle):
    with pytest.raises(ValueError):
        StoredHead.from_bytes(mangle(_rich_state().to_bytes()))
