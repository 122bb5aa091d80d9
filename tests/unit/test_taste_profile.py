"""Rule-by-rule tests of the taste profile (killrvideo_reco.domain.taste_profile)."""
from __future__ import annotations

import math
import uuid

import numpy as np
import pytest

from killrvideo_reco.domain.explanations import based_on_for_items, recent_videos
from killrvideo_reco.domain.taste_profile import (
    Interaction,
    ProfileParams,
    apply_change,
    build_state,
    compute_profile,
    interaction_weight,
)

D = 4
DAY = 86400.0
T0 = 1_700_000_000.0
P = ProfileParams()


def axis(k: int, scale: float = 1.0) -> np.ndarray:
    e = np.zeros(D)
    e[k % D] = scale if k < D else -scale
    return e


def watch(emb, seconds=300.0, duration=600.0, at=T0, uploader=None, vid=None, title=""):
    return Interaction(vid or uuid.uuid4(), np.asarray(emb, dtype=float), uploader, at,
                       "watch", seconds, duration, title)


def hide(emb, at=T0, uploader=None, vid=None):
    return Interaction(vid or uuid.uuid4(), np.asarray(emb, dtype=float), uploader, at, "hide")


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def assert_direction(profile, expected):
    assert profile is not None
    assert profile.dtype == np.float32
    np.testing.assert_allclose(profile, unit(expected), atol=1e-6)


# --- per-interaction weights --------------------------------------------------------------

@pytest.mark.parametrize("seconds, duration, expected", [
    (30.0, 600.0, -0.3),      # 5%: bounce
    (59.9, 600.0, -0.3),      # just under 10%: still a bounce
    (60.0, 600.0, 0.1),       # exactly the threshold: positive
    (300.0, 600.0, 0.5),
    (900.0, 600.0, 1.5),      # a rewatch accumulates past 1
    (5000.0, 600.0, 2.0),     # capped
    (300.0, None, 0.5),       # unknown duration -> default 600 s
    (300.0, 0.0, 0.5),        # zero duration is bad metadata -> default
    (0.0, 600.0, -0.3),       # opened and left
])
def test_watch_weight(seconds, duration, expected):
    assert interaction_weight(watch(axis(0), seconds, duration), P) == pytest.approx(expected)


def test_hide_weight_ignores_seconds():
    i = Interaction(uuid.uuid4(), axis(0), None, T0, "hide", seconds_watched=9999.0)
    assert interaction_weight(i, P) == -0.5


def test_custom_params_are_used():
    p = ProfileParams(bounce_threshold=0.5, bounce_weight=-1.0, completion_cap=1.0,
                      default_duration_s=100.0)
    assert interaction_weight(watch(axis(0), 40.0, None), p) == -1.0
    assert interaction_weight(watch(axis(0), 500.0, None), p) == 1.0


@pytest.mark.parametrize("bad", [
    dict(half_life_days=0), dict(bounce_threshold=0), dict(bounce_threshold=3.0),
    dict(bounce_weight=0.1), dict(hidden_weight=0.5), dict(channel_saturation=0),
    dict(min_positive_videos=0), dict(default_duration_s=-1), dict(half_life_days=math.inf),
])
def test_params_validation(bad):
    with pytest.raises(ValueError):
        ProfileParams(**bad)


def test_interaction_validation():
    with pytest.raises(ValueError):
        Interaction(uuid.uuid4(), axis(0), None, T0, "like")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        watch(axis(0), seconds=-1.0)
    with pytest.raises(ValueError):
        watch(axis(0), at=math.nan)


# --- decay --------------------------------------------------------------------------------

def test_half_life_is_exact():
    s = build_state([hide(axis(0), at=T0), hide(axis(1), at=T0 + 200 * DAY),
                     hide(axis(2), at=T0 - 200 * DAY)], P, D)
    assert s.reference_time == T0 + 200 * DAY
    assert s.negative_mass == pytest.approx(0.5 * (1 + 0.5 + 0.25), rel=1e-12)
    np.testing.assert_allclose(s.negative_sum, [-0.25, -0.5, -0.125, 0.0], rtol=1e-12)


def test_older_watch_pulls_half_as_much_after_one_half_life():
    ws = [watch(axis(0), at=T0), watch(axis(1), at=T0 - 200 * DAY),
          watch(axis(2), at=T0 - 400 * DAY)]
    assert_direction(compute_profile(ws, P, D), [1.0, 0.5, 0.25, 0.0])


def test_reference_time_does_not_change_the_profile():
    ws = [watch(axis(0), at=T0), watch(axis(1), at=T0 - 50 * DAY), watch(axis(2), at=T0)]
    s = build_state(ws, P, D)
    far = hide(axis(3), at=T0 + 999 * DAY)
    moved = apply_change(apply_change(s, None, far, P), far, None, P)
    assert moved.reference_time == T0 + 999 * DAY
    np.testing.assert_allclose(moved.preference_vector(P), s.preference_vector(P), atol=1e-7)


# --- rules --------------------------------------------------------------------------------

def test_weighted_mean_direction():
    ws = [watch(axis(0), 600.0), watch(axis(1), 300.0), watch(axis(2), 120.0)]
    assert_direction(compute_profile(ws, P, D), [1.0, 0.5, 0.2, 0.0])


def test_embeddings_are_normalised_before_weighting():
    ws = [watch(axis(0, 10.0)), watch(axis(1, 0.1)), watch(axis(2))]
    assert_direction(compute_profile(ws, P, D), [1.0, 1.0, 1.0, 0.0])


def test_completion_cap_limits_rewatches():
    capped = [watch(axis(0), 1200.0), watch(axis(1), 600.0), watch(axis(2), 600.0)]
    binged = [watch(axis(0), 60000.0), watch(axis(1), 600.0), watch(axis(2), 600.0)]
    assert_direction(compute_profile(binged, P, D), [2.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(compute_profile(binged, P, D), compute_profile(capped, P, D))


def test_bounce_is_negative_and_does_not_count_as_positive():
    ws = [watch(axis(0)), watch(axis(1)), watch(axis(2)), watch(axis(3), seconds=10.0)]
    s = build_state(ws, P, D)
    assert s.positive_count() == 3 and s.negative_count == 1
    assert_direction(s.preference_vector(P), [0.5, 0.5, 0.5, -0.3])


def test_hidden_video_is_negative_taste():
    likes = [watch(axis(0), 600.0), watch(axis(1), 600.0), watch(axis(2), 600.0)]
    assert_direction(compute_profile(likes + [hide(axis(3))], P, D), [1.0, 1.0, 1.0, -0.5])


def test_negative_push_is_capped_at_a_share_of_the_likes():
    likes = [watch(axis(0)), watch(axis(1)), watch(axis(2))]  # |P| = 0.5 * sqrt(3)
    push = P.negative_share * 0.5 * np.sqrt(3.0)                # < the hide's 0.5
    assert_direction(compute_profile(likes + [hide(axis(3))], P, D), [0.5, 0.5, 0.5, -push])


def test_watched_and_hidden_video_counts_both_ways():
    vid = uuid.uuid4()
    ws = [watch(axis(0), 600.0, vid=vid), hide(axis(0), vid=vid),
          watch(axis(1)), watch(axis(2))]
    s = build_state(ws, P, D)
    assert s.positive_count() == 3 and s.negative_count == 1
    assert_direction(s.preference_vector(P), [1.0 - 0.5, 0.5, 0.5, 0.0])


def test_channel_saturation():
    prolific, other = uuid.uuid4(), uuid.uuid4()
    ws = [watch(axis(0), uploader=prolific) for _ in range(6)] + [watch(axis(1), uploader=other)]
    # 6 videos scaled by 3/6: the channel weighs as much as 3 videos
    assert_direction(compute_profile(ws, P, D), [3 * 0.5, 0.5, 0.0, 0.0])
    # the same videos without an uploader are not saturated
    anon = [watch(axis(0)) for _ in range(6)] + [watch(axis(1))]
    assert_direction(compute_profile(anon, P, D), [6 * 0.5, 0.5, 0.0, 0.0])
    # up to channel_saturation videos are not scaled
    few = [watch(axis(0), uploader=prolific) for _ in range(3)] + [watch(axis(1), uploader=other)]
    assert_direction(compute_profile(few, P, D), [3 * 0.5, 0.5, 0.0, 0.0])


def test_negative_interactions_are_not_saturated():
    ch = uuid.uuid4()
    ws = [watch(axis(0), 1200.0, uploader=ch) for _ in range(3)]
    ws += [hide(axis(1), uploader=ch) for _ in range(6)]
    s = build_state(ws, P, D)
    assert s.negative_mass == pytest.approx(3.0)
    assert_direction(s.preference_vector(P), [6.0, -3.0, 0.0, 0.0])


def test_min_positive_videos():
    two = [watch(axis(0)), watch(axis(1))]
    assert compute_profile(two, P, D) is None
    assert compute_profile(two + [watch(axis(2))], P, D) is not None
    assert compute_profile(two, ProfileParams(min_positive_videos=2), D) is not None


def test_all_bounce_history_is_cold_start():
    ws = [watch(axis(k), seconds=5.0) for k in range(8)]
    assert compute_profile(ws, P, D) is None
    assert compute_profile([], P, D) is None


def test_negatives_never_switch_the_profile_off():
    likes = [watch(axis(0), 60.0), watch(axis(1), 60.0), watch(axis(2), 60.0)]  # mass 0.3
    negatives = [hide(axis(3)), watch(axis(3), 5.0), hide(axis(0)), hide(axis(1))]
    profile = compute_profile(likes + negatives, P, D)
    assert profile is not None
    # At most negative_share of |P| is pushed: the angle to the likes stays below asin(0.5).
    assert float(profile @ unit([1, 1, 1, 0])) >= np.sqrt(1 - P.negative_share ** 2) - 1e-6


def test_returning_viewer_who_hides_keeps_a_personal_profile():
    # The case: 100 watches two years old, 3 hides today.
    year = 365 * 86400.0
    likes = [watch(axis(k % 2), 600.0, at=T0 - 2 * year) for k in range(100)]
    hides = [hide(axis(2 + k % 2), at=T0) for k in range(3)]
    before = compute_profile(likes, P, D)
    after = compute_profile(likes + hides, P, D)
    assert after is not None
    assert float(after @ unit([1, 1, 0, 0])) >= np.sqrt(1 - P.negative_share ** 2) - 1e-6
    assert float(after @ axis(2)) < float(before @ axis(2)) == 0.0  # pushed away


def test_cancelling_likes_give_no_profile():
    ws = [watch(axis(0)), watch(axis(4)), watch(axis(1)), watch(axis(5))]
    assert compute_profile(ws, P, D) is None


def test_profile_never_turns_against_the_likes():
    # likes nearly cancel (net 0.2 * e0); hides of e0 would flip the sum to -e0 even
    # though the positive mass (4.2) beats the negative mass (0.5 or 1.0)
    likes = [watch(axis(0), 120.0), watch(axis(1), 1200.0), watch(axis(5), 1200.0)]
    assert_direction(compute_profile(likes, P, D), [1.0, 0.0, 0.0, 0.0])
    one_hide = build_state(likes + [hide(axis(0))], P, D)
    assert one_hide.positive_count() == 3 and one_hide.negative_mass == 0.5
    assert_direction(one_hide.preference_vector(P), [1.0, 0.0, 0.0, 0.0])
    assert_direction(compute_profile(likes + [hide(axis(0)), hide(axis(0))], P, D),
                     [1.0, 0.0, 0.0, 0.0])


def test_zero_and_non_finite_embeddings_are_skipped():
    ws = [watch(axis(0)), watch(axis(1)), watch(np.zeros(D)), watch([np.nan, 1, 0, 0])]
    assert build_state(ws, P, D).positive_count() == 2
    assert compute_profile(ws + [watch(axis(2))], P, D) is not None


def test_wrong_dimension_and_duplicates_are_rejected():
    with pytest.raises(ValueError):
        build_state([watch(np.ones(D + 1))], P, D)
    vid = uuid.uuid4()
    with pytest.raises(ValueError):
        build_state([watch(axis(0), vid=vid), watch(axis(0), vid=vid)], P, D)


# --- explanations -------------------------------------------------------------------------

def test_based_on_picks_most_similar_recent_likes():
    ids = [uuid.uuid4() for _ in range(4)]
    ws = [watch(axis(k), vid=ids[k], at=T0 + k, title=f"v{k}") for k in range(3)]
    ws.append(watch(axis(0) + axis(1), vid=ids[3], at=T0 + 3, title="v01"))
    recent = recent_videos(build_state(ws, P, D))
    items = [axis(0) * 3 + axis(1) * 0.1, axis(2), np.zeros(D), axis(4)]

    def cited(result):
        return [[(b.video_id, b.title) for b in row] for row in result]

    got = cited(based_on_for_items(items, recent, limit=2))
    assert got[0] == [(ids[0], "v0"), (ids[3], "v01")]
    assert got[1][0] == (ids[2], "v2")
    assert got[2] == []                     # a zero vector resembles nothing
    assert got[3] == []                     # opposite or orthogonal to every like
    strict = cited(based_on_for_items(items[:2], recent, limit=3, min_similarity=0.5))
    assert strict == [[(ids[0], "v0"), (ids[3], "v01")], [(ids[2], "v2")]]
    assert based_on_for_items(items, []) == [[], [], [], []]
    assert based_on_for_items([np.ones(D + 1)], recent) == [[]]  # wrong dimension