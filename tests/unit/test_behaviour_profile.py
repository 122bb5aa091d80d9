"""The behaviour block of the taste state: online updates equal a batch rebuild."""
from __future__ import annotations

import struct
import uuid

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from killrvideo_reco.domain.interests import encode_interests
from killrvideo_reco.domain.taste_behaviour import encode_behaviour
from killrvideo_reco.domain.taste_head import StoredHead, applied_unit
from killrvideo_reco.domain.taste_profile import (
    Interaction,
    OutdatedState,
    ProfileParams,
    TasteState,
    apply_change,
    build_state,
    empty_state,
)

D, B = 4, 3
T0 = 1_700_000_000.0
RUN = "run-1"
VIDEOS = [uuid.UUID(int=k + 1) for k in range(6)]
RNG = np.random.default_rng(11)
CONTENT = {v: RNG.normal(size=D) for v in VIDEOS}
BEHAVIOUR = {v: RNG.normal(size=B) for v in VIDEOS}


def watch(video, seconds, day, with_behaviour=True):
    return Interaction(video, CONTENT[video], None, T0 + day * 86400.0, "watch",
                       seconds_watched=seconds, duration_s=600.0,
                       behaviour=BEHAVIOUR[video] if with_behaviour else None)


def hide(video, day):
    return Interaction(video, CONTENT[video], None, T0 + day * 86400.0, "hide",
                       behaviour=BEHAVIOUR[video])


event_st = st.tuples(st.integers(0, len(VIDEOS) - 1), st.sampled_from(["watch", "hide", "unhide"]),
                     st.floats(0, 1500), st.floats(0, 400), st.booleans())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event_st, min_size=1, max_size=25))
def test_online_behaviour_vector_equals_batch(events):
    params = ProfileParams(half_life_days=120.0)
    state = build_state([], params, D, RUN)
    watches: dict[uuid.UUID, Interaction] = {}
    hides: dict[uuid.UUID, Interaction] = {}
    for index, kind, seconds, day, has_vector in events:
        video = VIDEOS[index]
        if kind == "watch":
            old = watches.get(video)
            new = watch(video, (old.seconds_watched if old else 0.0) + seconds,
                        max(day, old.at / 86400.0 - T0 / 86400.0) if old else day,
                        with_behaviour=old.behaviour is not None if old else has_vector)
            state, watches[video] = apply_change(state, old, new, params), new
        elif kind == "hide" and video not in hides:
            hides[video] = hide(video, day)
            state = apply_change(state, None, hides[video], params)
        elif kind == "unhide" and video in hides:
            state = apply_change(state, hides.pop(video), None, params)
    batch = build_state([*watches.values(), *hides.values()], params, D, RUN)
    assert state.behaviour_count == batch.behaviour_count
    positives = [w for w in watches.values() if w.behaviour is not None
                 and w.seconds_watched / 600.0 >= params.bounce_threshold]
    assert batch.behaviour_count == len(positives)
    if batch.behaviour_count == 0:
        assert state.behaviour_vector() is None and batch.behaviour_vector() is None
    else:
        # Only the direction is served (queries are normalised). The scale may differ:
        # removing the newest interaction keeps the online reference time, as for content.
        online, batch_vector = state.behaviour_vector(), batch.behaviour_vector()
        assert (online is None) == (batch_vector is None)
        if online is not None:
            np.testing.assert_allclose(online / np.linalg.norm(online),
                                       batch_vector / np.linalg.norm(batch_vector), atol=1e-6)


def test_one_view_gives_a_behaviour_vector_and_hides_do_not():
    params = ProfileParams()
    state = apply_change(build_state([], params, D, RUN), None, watch(VIDEOS[0], 600, 0), params)
    assert state.preference_vector(params) is None, "content profile needs 3 positives"
    np.testing.assert_allclose(state.behaviour_vector(), BEHAVIOUR[VIDEOS[0]], rtol=1e-6)
    hidden = apply_change(state, None, hide(VIDEOS[1], 1), params)
    np.testing.assert_allclose(hidden.behaviour_vector(), state.behaviour_vector() *
                               np.exp(-params.decay_rate * 86400.0), rtol=1e-6)


def _legacy_blob(s: TasteState, version: int) -> bytes:
    """The version 1-3 layout, written out by hand: float64 channel sums, float32 recent
    embeddings; version 2 added the behaviour block, version 3 the interests."""
    parts = [struct.pack("<4sHIIdddIII", b"KVTS", version, s.fingerprint, s.dimension,
                         s.reference_time, s.recent_floor, s.negative_mass, s.negative_count,
                         len(s.channels), len(s.recent_positive)),
             s.negative_sum.astype("<f8").tobytes()]
    for key in sorted(s.channels):
        ch, k = s.channels[key], key.encode()
        parts += [struct.pack("<HdId", len(k), ch.mass, ch.count, ch.as_of), k,
                  ch.vector_sum.astype("<f8").tobytes()]
    for r in s.recent_positive:
        t = r.title.encode()
        parts += [struct.pack("<16sdI", r.video_id.bytes, r.at, len(t)), t,
                  r.embedding.astype("<f4").tobytes()]
    if version >= 2:
        parts.append(encode_behaviour(s.behaviour_run, s.behaviour_sum, s.behaviour_count))
    if version >= 3:
        parts.append(encode_interests(s.interests))
    return b"".join(parts)


def test_state_round_trips_and_older_blobs_ask_for_a_rebuild():
    params = ProfileParams()
    state = build_state([watch(v, 500, n) for n, v in enumerate(VIDEOS)], params, D, RUN)
    catalogue = {v: ("", applied_unit(CONTENT[v])) for v in VIDEOS}
    again = (StoredHead.from_bytes(state.to_bytes()).resolve(catalogue, params)
             .with_channels(state.channels))
    assert again == state and state.interests
    assert all(a.same_as(b) for a, b in zip(again.interests, state.interests))
    plain = build_state([watch(v, 500, n, with_behaviour=False) for n, v in enumerate(VIDEOS)],
                        params, D)
    for version, built in ((3, state), (2, plain), (1, plain)):
        with pytest.raises(OutdatedState):  # every channel inside: rebuilt from history
            StoredHead.from_bytes(_legacy_blob(built, version))


def test_empty_state_has_no_behaviour():
    assert empty_state(D).behaviour_vector() is None
