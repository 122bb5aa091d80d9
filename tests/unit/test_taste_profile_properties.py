"""Property tests of the taste profile: invariants over random histories and updates."""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from killrvideo_reco.domain.taste_head import StoredHead, applied_unit
from killrvideo_reco.domain.taste_profile import (
    Interaction,
    ProfileParams,
    TasteState,
    apply_change,
    build_state,
    channel_cells,
    channel_of,
    cluster_recent,
    compute_profile,
    decode_channel,
    empty_state,
)

D = 5
DAY = 86400.0
T0 = 1_700_000_000.0
UPLOADERS = [uuid.UUID(int=1000 + k) for k in range(3)]
SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# Half-lives and time spans keep the oldest contribution within ~12 half-lives of the
# newest, the range where add/subtract updates stay exact to float64 noise.
params_st = st.builds(
    ProfileParams,
    half_life_days=st.floats(60, 400),
    bounce_threshold=st.sampled_from([0.05, 0.1, 0.3]),
    bounce_weight=st.sampled_from([0.0, -0.3, -1.0]),
    hidden_weight=st.sampled_from([0.0, -0.5, -2.0]),
    completion_cap=st.sampled_from([1.0, 2.0]),
    channel_saturation=st.sampled_from([0.5, 1.0, 3.0]),
    min_positive_videos=st.integers(1, 4),
    recent_positive_kept=st.integers(0, 5),
)
days_st = st.floats(0, 730)
seconds_st = st.one_of(st.floats(0, 120), st.floats(0, 4000))


def _with_direction(v: np.ndarray) -> np.ndarray:
    return v if np.linalg.norm(v) > 0.1 else v + np.eye(D)[0]


def embedding_st(allow_zero: bool = False):
    # a shared component, like real text embeddings have, or none at all
    vec = st.builds(lambda xs, bias: _with_direction(np.array(xs) + bias),
                    st.lists(st.floats(-1, 1), min_size=D, max_size=D),
                    st.sampled_from([0.0, 0.6]))
    if not allow_zero:
        return vec
    # about one video in ten not embedded yet
    return st.builds(lambda v, k: v if k else np.zeros(D), vec, st.integers(0, 9))


@dataclass(frozen=True)
class Video:
    video_id: uuid.UUID
    embedding: np.ndarray
    uploader_id: uuid.UUID | None
    duration_s: float | None

    def watch(self, seconds: float, at: float) -> Interaction:
        return Interaction(self.video_id, self.embedding, self.uploader_id, at, "watch",
                           seconds, self.duration_s, title=f"t{self.video_id.int}")

    def hide(self, at: float) -> Interaction:
        return Interaction(self.video_id, self.embedding, self.uploader_id, at, "hide")


@st.composite
def videos_st(draw, min_size=1, max_size=8, allow_zero=False):
    n = draw(st.integers(min_size, max_size))
    return [Video(uuid.UUID(int=k + 1), draw(embedding_st(allow_zero)),
                  draw(st.sampled_from(UPLOADERS + [None])),
                  draw(st.one_of(st.none(), st.floats(10, 3600)))) for k in range(n)]


@st.composite
def history_st(draw, min_size=1, max_size=8, likes=0):
    """At most one watch and one hide per video, as stored in viewer_history.

    The first `likes` videos are watched well past any bounce threshold.
    """
    out = []
    for k, v in enumerate(draw(videos_st(max(min_size, likes), max_size))):
        if k < likes:
            full = v.duration_s or ProfileParams().default_duration_s
            seconds = full * draw(st.floats(0.35, 3.0))
            out.append(v.watch(seconds, T0 + draw(days_st) * DAY))
        elif draw(st.integers(0, 4)) > 0:
            out.append(v.watch(draw(seconds_st), T0 + draw(days_st) * DAY))
        if draw(st.integers(0, 3)) == 0:
            out.append(v.hide(T0 + draw(days_st) * DAY))
    return out


def same_profile(a, b, atol=1e-5) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(np.allclose(a, b, atol=atol))


# --- an independent re-statement of the rules, for the cold-start property ---------------

def _expected_sums(history, p: ProfileParams):
    ref = max(i.at for i in history)
    pos: dict[str, list[tuple[float, np.ndarray]]] = {}
    neg_mass = 0.0
    for i in history:
        # The reference is independent of the code, except for the documented float16
        # rounding of unit embeddings (UNIT_ROUNDING), which it applies too.
        e = (i.embedding / np.linalg.norm(i.embedding)).astype(np.float16).astype(np.float64)
        age_half_lives = (ref - i.at) / DAY / p.half_life_days
        dec = 0.5 ** age_half_lives
        if i.kind == "hide":
            neg_mass += -p.hidden_weight * dec
            continue
        c = i.seconds_watched / (i.duration_s or p.default_duration_s)
        if c < p.bounce_threshold:
            neg_mass += -p.bounce_weight * dec
        else:
            key = str(i.uploader_id) if i.uploader_id else str(i.video_id)
            pos.setdefault(key, []).append((min(c, p.completion_cap) * dec, e))
    n_pos = sum(len(m) for m in pos.values())
    pos_mass, pos_vec = 0.0, np.zeros(D)
    for members in pos.values():
        scale = min(1.0, p.channel_saturation / len(members))
        for w, e in members:
            pos_mass += scale * w
            pos_vec += scale * w * e
    return n_pos, pos_mass, neg_mass, pos_vec


def _cap_binds(history, p: ProfileParams) -> bool:
    s = build_state(history, p, D)
    positive = s.positive_sum
    return float(np.linalg.norm(s.negative_sum)) > p.negative_share * float(
        np.linalg.norm(positive)) * (1 - 1e-9)


# --- properties ---------------------------------------------------------------------------

@SETTINGS
@given(history_st(likes=3), params_st)
def test_profile_is_unit_float32_or_none(history, p):
    prof = compute_profile(history, p, D)
    assume(prof is not None)
    assert prof.dtype == np.float32 and prof.shape == (D,)
    assert np.all(np.isfinite(prof))
    assert abs(float(np.linalg.norm(prof.astype(np.float64))) - 1.0) < 1e-6


@SETTINGS
@given(history_st(), params_st, st.randoms(use_true_random=False))
def test_build_state_is_order_independent(history, p, rnd):
    shuffled = list(history)
    rnd.shuffle(shuffled)
    a, b = build_state(history, p, D), build_state(shuffled, p, D)
    assert same_profile(a.preference_vector(p), b.preference_vector(p), atol=1e-6)
    assert a.positive_count() == b.positive_count()
    assert a.negative_count == b.negative_count
    assert [r.video_id for r in a.recent_positive] == [r.video_id for r in b.recent_positive]


@SETTINGS
@given(history_st(likes=2), params_st, videos_st(1, 1), st.floats(0.35, 3.0), days_st,
       st.floats(1, 600))
def test_older_watch_pulls_less(history, p, extra, completion, day, older_by_days):
    v = Video(uuid.UUID(int=999), extra[0].embedding, extra[0].uploader_id, 600.0)
    seconds = 600.0 * max(completion, p.bounce_threshold)
    newer_history = history + [v.watch(seconds, T0 + day * DAY)]
    older_history = history + [v.watch(seconds, T0 + (day - older_by_days) * DAY)]
    # Where the cap on negatives binds, the push scales with |likes|: a second-order
    # effect the cap's own tests cover.
    assume(not any(_cap_binds(h, p) for h in (newer_history, older_history)))
    newer, older = compute_profile(newer_history, p, D), compute_profile(older_history, p, D)
    assume(newer is not None and older is not None)
    x = v.embedding / np.linalg.norm(v.embedding)
    assert float(newer @ x) >= float(older @ x) - 1e-6


@SETTINGS
@given(history_st(), videos_st(1, 1), days_st, st.floats(0, 1e5), st.floats(0, 1e5))
def test_seconds_beyond_the_cap_change_nothing(history, extra, day, more_a, more_b):
    p = ProfileParams()
    v = Video(uuid.UUID(int=999), extra[0].embedding, extra[0].uploader_id,
              extra[0].duration_s)
    full = p.completion_cap * (v.duration_s or p.default_duration_s)
    a = build_state(history + [v.watch(full + more_a, T0 + day * DAY)], p, D)
    b = build_state(history + [v.watch(full + more_b, T0 + day * DAY)], p, D)
    assert a == b
    assert same_profile(a.preference_vector(p), b.preference_vector(p), atol=0.0)


@SETTINGS
@given(history_st(), params_st)
def test_cold_start_rule(history, p):
    prof = compute_profile(history, p, D)
    if not history:
        assert prof is None
        return
    n_pos, pos_mass, neg_mass, pos_vec = _expected_sums(history, p)
    if n_pos < p.min_positive_videos or not np.linalg.norm(pos_vec) > 1e-6 * pos_mass:
        assert prof is None
    else:  # negatives never switch it off, and tilt it by at most asin(negative_share)
        assert prof is not None
        cos = float(prof @ pos_vec) / float(np.linalg.norm(pos_vec))
        assert cos >= np.sqrt(1 - p.negative_share ** 2) - 1e-5


@SETTINGS
@given(videos_st(1, 8), params_st, st.lists(st.floats(0.35, 3.0), min_size=8, max_size=8),
       st.lists(days_st, min_size=8, max_size=8))
def test_enough_likes_in_one_region_always_give_a_profile(videos, p, completions, days):
    # all embeddings in the positive orthant, no negatives: the converse of the rule
    history = [Video(v.video_id, np.abs(v.embedding), v.uploader_id, 600.0)
               .watch(600.0 * c, T0 + d * DAY) for v, c, d in zip(videos, completions, days)]
    prof = compute_profile(history, p, D)
    assert (prof is not None) == (len(history) >= p.min_positive_videos)


# --- online == batch ----------------------------------------------------------------------

action_st = st.tuples(
    st.integers(0, 7),
    st.sampled_from(["watch"] * 5 + ["hide", "unhide", "forget"]),
    seconds_st, days_st, st.booleans())


def assert_matches_batch(state: TasteState, current, p: ProfileParams) -> bool:
    batch = build_state(current, p, D)
    assert state.positive_count() == batch.positive_count()
    assert state.negative_count == batch.negative_count
    scale = math.exp(-p.decay_rate * (state.reference_time - batch.reference_time))
    assert math.isclose(state.negative_mass, batch.negative_mass * scale,
                        rel_tol=1e-9, abs_tol=1e-12)
    online_prof = state.preference_vector(p)
    assert same_profile(online_prof, batch.preference_vector(p))
    online_ids = [r.video_id for r in state.recent_positive]
    batch_ids = [r.video_id for r in batch.recent_positive]
    assert online_ids == batch_ids[:len(online_ids)]
    # The interests are a function of the recent likes and the reference time.
    interests = cluster_recent(state.recent_positive, state.reference_time, p)
    assert all(a.same_as(b) for a, b in zip(state.interests, interests, strict=True))
    if online_ids == batch_ids and state.reference_time == batch.reference_time:
        assert all(a.same_as(b) for a, b in zip(state.interests, batch.interests, strict=True))
    return online_prof is not None


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(videos_st(3, 8, allow_zero=True), params_st,
       st.lists(action_st, min_size=5, max_size=40))
def test_online_updates_match_batch(videos, p, actions):
    """Views, bounces, rewatches (which may cross the bounce threshold either way,
    e.g. with a rewatch of 0 s whose later time decays nothing but moves `at`),
    hides, un-hides and forgotten watches, in any time order: after every step the
    online state gives the batch profile."""
    state = empty_state(D)
    current: dict[tuple[uuid.UUID, str], Interaction] = {}
    profiles = 0
    cells: dict[str, bytes] = {}
    catalogue = {v.video_id: (f"t{v.video_id.int}", applied_unit(v.embedding))
                 for v in videos}
    for idx, action, seconds, day, reload in actions:
        v = videos[idx % len(videos)]
        t = T0 + day * DAY
        key = channel_of(v.video_id, v.uploader_id)
        if key not in state.channels and key in cells:  # as the service loads it
            state = state.with_channels({**state.channels, key: decode_channel(cells[key], D)})
        kind = "hide" if action in ("hide", "unhide") else "watch"
        old = current.get((v.video_id, kind))
        if action == "watch":  # a rewatch adds its seconds to the running total
            new = v.watch((old.seconds_watched if old else 0.0) + seconds,
                          max(old.at, t) if old else t)
        elif action == "hide":
            new = v.hide(t)
        else:  # unhide / forget: remove if present
            if old is None:
                continue
            new = None
        state = apply_change(state, old, new, p)
        if new is None:
            del current[(v.video_id, kind)]
        else:
            current[(v.video_id, kind)] = new
        for k, cell in channel_cells(state).items():  # the store keeps a cell per channel
            if cell is None:
                cells.pop(k, None)
            else:
                cells[k] = cell
        if reload:  # the service stores the head; the next change loads its channel only
            head = state.to_bytes()
            again = StoredHead.from_bytes(head).resolve(catalogue, p)  # references resolved
            assert again.to_bytes() == head, "bit-identical vectors from the catalogue"
            assert again.with_channels(state.channels) == state
            assert all(a.same_as(b) for a, b in zip(again.interests, state.interests,
                                                     strict=True))
            state = again
        profiles += assert_matches_batch(state, current.values(), p)
    event(f"steps with a profile: {min(profiles, 5)}{'+' if profiles >= 5 else ''}")
