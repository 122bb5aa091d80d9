"""Online updates of the taste state (apply_change): what a view, a rewatch or an un-hide
does to the stored sums, and what it refuses."""
from __future__ import annotations

import uuid

import numpy as np
import pytest

from killrvideo_reco.domain.taste_profile import (
    ProfileParams,
    StaleStateError,
    apply_change,
    build_state,
    compute_profile,
    empty_state,
)
from tests.unit.test_taste_profile import DAY, T0, D, P, assert_direction, axis, hide, watch

# --- online updates -----------------------------------------------------------------------

def test_rewatch_crossing_bounce_threshold_moves_to_positive():
    base = [watch(axis(1)), watch(axis(2))]
    s = build_state(base, P, D)
    vid = uuid.uuid4()
    first = watch(axis(0), 20.0, vid=vid, at=T0 + DAY)
    s1 = apply_change(s, None, first, P)
    assert (s1.positive_count(), s1.negative_count) == (2, 1)
    again = watch(axis(0), 620.0, vid=vid, at=T0 + 2 * DAY)
    s2 = apply_change(s1, first, again, P)
    assert (s2.positive_count(), s2.negative_count) == (3, 0)
    assert s2.negative_mass == 0.0 and not s2.negative_sum.any()
    expected = build_state(base + [again], P, D).preference_vector(P)
    np.testing.assert_allclose(s2.preference_vector(P), expected, atol=1e-7)
    assert s2.recent_positive[0].video_id == vid


def test_unhide_restores_profile_and_input_is_not_mutated():
    likes = [watch(axis(k)) for k in range(3)]
    s = build_state(likes, P, D)
    before = s.to_bytes()
    h = hide(axis(3), at=T0 + DAY)
    hidden = apply_change(s, None, h, P)
    assert s.to_bytes() == before
    assert hidden.negative_count == 1
    unhidden = apply_change(hidden, h, None, P)
    assert unhidden.negative_count == 0 and unhidden.reference_time == T0 + DAY
    np.testing.assert_allclose(unhidden.preference_vector(P), s.preference_vector(P), atol=1e-7)


def test_channel_touched_later_is_decayed_first():
    ch = uuid.uuid4()
    ws = [watch(axis(0), uploader=ch, at=T0), watch(axis(1), at=T0), watch(axis(2), at=T0)]
    late = watch(axis(3), uploader=ch, at=T0 + 200 * DAY)
    s = apply_change(build_state(ws, P, D), None, late, P)
    assert_direction(s.preference_vector(P), [0.25, 0.25, 0.25, 0.5])
    np.testing.assert_allclose(s.preference_vector(P), compute_profile(ws + [late], P, D),
                               atol=1e-7)


def test_older_interaction_is_added_with_its_decay():
    s = build_state([watch(axis(0), at=T0 + 200 * DAY), watch(axis(1), at=T0 + 200 * DAY)], P, D)
    s = apply_change(s, None, watch(axis(2), at=T0), P)
    assert s.reference_time == T0 + 200 * DAY
    assert_direction(s.preference_vector(P), [1.0, 1.0, 0.5, 0.0])


def test_apply_change_rejects_inconsistent_input():
    s = build_state([watch(axis(0))], P, D)
    with pytest.raises(ValueError):
        apply_change(s, watch(axis(1)), None, P)  # never added
    with pytest.raises(ValueError):
        apply_change(s, hide(axis(1)), None, P)
    with pytest.raises(ValueError):
        apply_change(s, watch(axis(1)), watch(axis(1)), P)  # different video ids
    with pytest.raises(StaleStateError):
        apply_change(s, None, watch(axis(1)), ProfileParams(half_life_days=30))
    # read-time-only parameters do not make a state stale
    assert s.matches(ProfileParams(min_positive_videos=1, negative_share=0.2))
    # channel_saturation is baked into the stored P (layout 5): changing it rebuilds
    assert not s.matches(ProfileParams(channel_saturation=1.0))
    assert not s.matches(ProfileParams(bounce_weight=-0.2))
    assert apply_change(s, None, None, P) is s


def test_recent_positive_newest_first_and_bounded():
    p = ProfileParams(recent_positive_kept=3)
    ws = [watch(axis(k), at=T0 + k * DAY, title=f"v{k}") for k in range(5)]
    s = build_state(ws + [watch(axis(0), 5.0, at=T0 + 9 * DAY)], p, D)  # a bounce is not kept
    assert [r.title for r in s.recent_positive] == ["v4", "v3", "v2"]
    assert s.recent_floor == T0 + DAY
    online = empty_state(D)
    for w in reversed(ws):  # newest first: v1 and v0 arrive after the list is full
        online = apply_change(online, None, w, p)
    batch = build_state(ws, p, D)
    assert [r.title for r in online.recent_positive] == ["v4", "v3", "v2"]
    assert online.recent_floor == batch.recent_floor == T0 + DAY
    # removing v4 does not let v1 back in (online never kept it): a prefix of the batch list
    online = apply_change(online, ws[4], None, p)
    assert [r.title for r in online.recent_positive] == ["v3", "v2"]
    assert [r.title for r in build_state(ws[:4], p, D).recent_positive] == ["v3", "v2", "v1"]
    # nor does a newly added video older than the dropped v1
    online = apply_change(online, None, watch(axis(0), at=T0 + 0.5 * DAY, title="late"), p)
    assert [r.title for r in online.recent_positive] == ["v3", "v2"]
    assert [r.title for r in build_state(ws, ProfileParams(recent_positive_kept=0), D)
            .recent_positive] == []
