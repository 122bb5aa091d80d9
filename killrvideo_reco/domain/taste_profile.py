"""Viewer taste profiles: one preference vector from a watch/hide history.

    P = sum_c s_c * V_c,   s_c = min(1, channel_saturation / n_c)
    profile = normalise( P + min(1, negative_share * |P| / |N|) * N )

V_c is the decayed weighted sum of unit embeddings of the n_c positive videos of channel c,
N the decayed sum of the negative ones (bounces, hides). Negatives tilt the profile away
from what they resemble but never outweigh the likes: a returning viewer whose likes
have decayed keeps a profile however many videos they hide. TasteState keeps these sums
un-normalised, so one interaction can be added, replaced or removed in O(dimension) and the
result matches a batch rebuild. See docs/recommendations.md, "Taste profiles".

The state also keeps P itself (`positive_sum`), so neither a change nor the profile needs
every channel: a change loads only the channels it touches (`channels` holds those; the
store keeps each channel as its own cell). Its cost does not grow with the history.
"""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping

import numpy as np

from . import interests as interest_clusters
from .interests import Interest
from .taste_behaviour import add_behaviour
from .taste_codec import OutdatedState, decode_channel, encode, encode_channel
from .taste_weights import (  # re-exported: callers import everything from here
    ChannelSum,
    Interaction,
    ProfileParams,
    RecentPositive,
    channel_key,
    channel_of,
    completion,
    decay,
    interaction_weight,
    is_positive,
    readonly,
    recent_entry,
    trim_recent,
    unit_embedding,
)

__all__ = [
    "ChannelSum", "Interaction", "OutdatedState", "ProfileParams", "RecentPositive",
    "StaleStateError", "TasteState", "apply_change", "build_state", "channel_cells",
    "channel_key", "cluster_recent",
    "channel_of", "completion", "decode_channel", "encode_channel",
    "compute_profile", "empty_state", "interaction_weight", "is_positive",
]

# Relative tolerances. Exact ties and exact cancellations must land on the same side
# whether the sums were built in one pass or by add/subtract updates (float noise ~1e-16).
_MIN_REL_NORM = 1e-6   # a sum shorter than this fraction of its mass has no direction


class StaleStateError(ValueError):
    """The state was built with different weight parameters; rebuild it from history."""


@dataclass(frozen=True, eq=False)
class TasteState:
    reference_time: float
    dimension: int
    negative_sum: np.ndarray  # float64, sum of w*e (w <= 0), decayed to reference_time
    negative_mass: float      # sum of |w|, decayed to reference_time
    negative_count: int
    # The channel sums loaded with this state: every channel after build_state, only the
    # ones a change touched otherwise. A count of 0 marks a channel the change emptied.
    channels: Mapping[str, ChannelSum]
    recent_positive: tuple[RecentPositive, ...] = ()  # newest first
    recent_floor: float = -math.inf  # positives at or before this were dropped
    fingerprint: int = 0  # ProfileParams.fingerprint() of the sums; 0 = not bound yet
    # Behaviour space: decayed weighted sum of the positives' raw vectors of one training run.
    behaviour_run: str = ""
    behaviour_sum: np.ndarray = field(default_factory=lambda: readonly(np.zeros(0)))
    behaviour_count: int = 0
    # Clusters of the recent positives in the content space (domain/interests.py).
    interests: tuple[Interest, ...] = ()
    # P = sum_c s_c * V_c and its mass, decayed to reference_time; the number of positives.
    positive_sum: np.ndarray = field(default_factory=lambda: readonly(np.zeros(0)))
    positive_mass: float = 0.0
    positives: int = 0

    def behaviour_vector(self) -> np.ndarray | None:
        """The viewer's behaviour vector (float32), None before any positive with one."""
        if self.behaviour_count <= 0:
            return None
        norm = float(np.linalg.norm(self.behaviour_sum))
        return self.behaviour_sum.astype(np.float32) if norm > 1e-12 else None

    def positive_count(self) -> int:
        return self.positives

    def matches(self, params: ProfileParams) -> bool:
        """False when the stored sums used other weights: rebuild with build_state."""
        return self.fingerprint in (0, params.fingerprint())

    def preference_vector(self, params: ProfileParams) -> np.ndarray | None:
        """Unit float32 profile, or None when the viewer should get the cold-start feed."""
        if self.positive_count() < params.min_positive_videos:
            return None
        pos, pos_mass = self.positive_sum, self.positive_mass
        pos_norm = float(np.linalg.norm(pos))
        if not pos_mass > 0 or not pos_norm > _MIN_REL_NORM * pos_mass:  # likes cancel out
            return None
        neg_norm = float(np.linalg.norm(self.negative_sum))
        # The push is at most negative_share < 1 of |P|, so total . P > 0: negatives
        # steer away from what they resemble, never against the likes or to cold start.
        push = min(1.0, params.negative_share * pos_norm / neg_norm) if neg_norm > 0 else 0.0
        total = pos + push * self.negative_sum
        return (total / float(np.linalg.norm(total))).astype(np.float32)


    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TasteState):
            return NotImplemented
        return (
            _scalars(self) == _scalars(other)
            and np.array_equal(self.negative_sum, other.negative_sum)
            and np.array_equal(self.positive_sum, other.positive_sum)
            and self.channels.keys() == other.channels.keys()
            and all(_channel_eq(c, other.channels[k]) for k, c in self.channels.items())
            and len(self.recent_positive) == len(other.recent_positive)
            and all(a[:3] == b[:3] and np.array_equal(a.embedding, b.embedding)
                    for a, b in zip(self.recent_positive, other.recent_positive))
            and (self.behaviour_run, self.behaviour_count)
            == (other.behaviour_run, other.behaviour_count)
            and np.array_equal(self.behaviour_sum, other.behaviour_sum))
    # Interests are left out: they derive from the recent likes and the reference time,
    # compared above, and a head stored before they did may hold order-dependent ones.

    __hash__ = None  # type: ignore[assignment]

    def to_bytes(self) -> bytes:
        """The head; the channels are stored as cells of their own (encode_channel)."""
        return encode(self)

    def with_channels(self, channels: Mapping[str, ChannelSum]) -> "TasteState":
        return replace(self, channels=dict(channels))


def _scalars(s: TasteState) -> tuple:
    return (s.reference_time, s.dimension, s.negative_mass, s.negative_count,
            s.recent_floor, s.fingerprint, s.positive_mass, s.positives)


def _channel_eq(a: ChannelSum, b: ChannelSum) -> bool:
    return ((a.mass, a.count, a.as_of) == (b.mass, b.count, b.as_of)
            and np.array_equal(a.vector_sum, b.vector_sum))


def empty_state(dimension: int, params: ProfileParams | None = None) -> TasteState:
    if dimension < 1:
        raise ValueError("dimension must be >= 1")
    return TasteState(
        reference_time=0.0, dimension=dimension, negative_sum=readonly(np.zeros(dimension)),
        negative_mass=0.0, negative_count=0, channels={},
        fingerprint=params.fingerprint() if params else 0,
        positive_sum=readonly(np.zeros(dimension)))


def build_state(interactions: Iterable[Interaction], params: ProfileParams,
                dimension: int, behaviour_run: str = "") -> TasteState:
    """Batch build. At most one interaction per (video, kind), as in viewer_history.
    Interactions' behaviour vectors must come from `behaviour_run`."""
    items = list(interactions)
    seen: set[tuple[uuid.UUID, str]] = set()
    for i in items:
        if (i.video_id, i.kind) in seen:
            raise ValueError(f"duplicate {i.kind} interaction for video {i.video_id}")
        seen.add((i.video_id, i.kind))
    state = replace(empty_state(dimension, params), behaviour_run=behaviour_run)
    if not items:
        return state
    ref = max(float(i.at) for i in items)
    neg_sum, neg_mass, neg_count = np.zeros(dimension), 0.0, 0
    b_sum, b_count = np.zeros(0), 0
    groups: dict[str, list[tuple[float, np.ndarray]]] = {}
    recent: list[RecentPositive] = []
    for i in items:
        unit = unit_embedding(i, dimension)
        if unit is None:
            continue
        w = interaction_weight(i, params)
        dw = w * decay(ref - i.at, params)
        if w > 0:
            groups.setdefault(channel_key(i), []).append((dw, unit))
            recent.append(recent_entry(i, unit))
            b_sum, b_count = add_behaviour(b_sum, b_count, i, dw, 1)
        else:
            neg_sum += dw * unit
            neg_mass += -dw
            neg_count += 1
    channels = {}
    pos_sum, pos_mass = np.zeros(dimension), 0.0
    for key, members in groups.items():
        weights = np.array([m[0] for m in members])
        vectors = np.stack([m[1] for m in members])
        ch = ChannelSum(readonly(weights @ vectors), float(weights.sum()), len(members), ref)
        channels[key] = ch
        s = _saturation(ch.count, params)
        pos_sum += s * ch.vector_sum
        pos_mass += s * ch.mass
    recent_t, floor = trim_recent(recent, -math.inf, params.recent_positive_kept)
    return TasteState(ref, dimension, readonly(neg_sum), neg_mass, neg_count, channels,
                      recent_t, floor, params.fingerprint(), behaviour_run, readonly(b_sum),
                      b_count, cluster_recent(recent_t, ref, params), readonly(pos_sum), pos_mass,
                      sum(ch.count for ch in channels.values()))


def _saturation(count: int, params: ProfileParams) -> float:
    return min(1.0, params.channel_saturation / count) if count > 0 else 0.0


def cluster_recent(recent, ref: float, params: ProfileParams) -> tuple[Interest, ...]:
    return interest_clusters.cluster(recent, ref, lambda age: decay(age, params),
                                     params.interest_count, params.interest_similarity)


def apply_change(state: TasteState, old: Interaction | None, new: Interaction | None,
                 params: ProfileParams) -> TasteState:
    """Replace one interaction's contribution: old=None adds, new=None removes."""
    return apply_changes(state, ((old, new),), params)


def apply_changes(state: TasteState,
                  steps: Iterable[tuple[Interaction | None, Interaction | None]],
                  params: ProfileParams, recluster: bool | None = None) -> TasteState:
    """Replace each (old, new) interaction's contribution in turn: old=None adds,
    new=None removes.

    `old` must be exactly what was applied before (same weights, same embedding), and the
    state must hold the stored channel of a positive's uploader (the caller loads it).
    Each step touches the global sums and one channel; the interests, a function of the
    recent likes, are clustered once at the end: when the likes or the reference time
    moved (recluster=None), always (True: the input's interests are out of date), or
    never (False: the caller applies more changes with recluster=True). The input state
    is not changed.
    """
    before = state
    for old, new in steps:
        state = _apply_sums(state, old, new, params)
    if recluster is False or (
            recluster is None and state.reference_time == before.reference_time
            and _likes(state) == _likes(before)):
        return state  # e.g. a bounce of an old view: the interests cannot have moved
    return replace(state, interests=cluster_recent(state.recent_positive,
                                                   state.reference_time, params))


def _likes(state: TasteState) -> list[tuple[uuid.UUID, float]]:
    return [(r.video_id, r.at) for r in state.recent_positive]


def _apply_sums(state: TasteState, old: Interaction | None, new: Interaction | None,
                params: ProfileParams) -> TasteState:
    """One step of apply_changes; the interests are left as they were."""
    if old is None and new is None:
        return state
    if old and new and (old.video_id, old.kind) != (new.video_id, new.kind):
        raise ValueError("old and new must be the same video and kind")
    if not state.matches(params):
        raise StaleStateError("taste state was built with other weight parameters")
    ref = state.reference_time if new is None else max(state.reference_time, float(new.at))
    shift = decay(ref - state.reference_time, params)
    neg_sum, neg_mass = state.negative_sum * shift, state.negative_mass * shift
    neg_count = state.negative_count
    b_sum, b_count = state.behaviour_sum * shift, state.behaviour_count
    channels = dict(state.channels)
    pos_sum, pos_mass, positives = state.positive_sum * shift, state.positive_mass * shift, \
        state.positives
    if pos_sum.size == 0:  # an empty state from before any positive
        pos_sum = np.zeros(state.dimension)
    recent = list(state.recent_positive)
    floor = state.recent_floor
    for sign, i in ((-1, old), (1, new)):
        if i is None:
            continue
        unit = unit_embedding(i, state.dimension)
        if unit is None:  # was skipped when added, so skip when removed
            continue
        w = interaction_weight(i, params)
        dw = sign * w * decay(ref - i.at, params)
        if w > 0:
            key = channel_key(i)
            ch = channels.get(key)
            if ch is not None and ch.count == 0:
                ch = None  # emptied earlier in this batch of changes
            if ch is None and sign < 0:
                raise ValueError(f"positive watch of {i.video_id} is not part of this state")
            count = (ch.count if ch else 0) + sign
            f = decay(ref - ch.as_of, params) if ch else 0.0
            if ch is not None:  # the channel's old share of P leaves, its new share enters
                s_old = _saturation(ch.count, params) * f
                pos_sum = pos_sum - s_old * ch.vector_sum
                pos_mass -= s_old * ch.mass
            positives += sign
            if count == 0:  # exact reset: no float residue from subtraction
                channels[key] = ChannelSum(readonly(np.zeros(0)), 0.0, 0, ref)
            else:
                vec = (ch.vector_sum * f if ch else np.zeros(state.dimension)) + dw * unit
                mass = max(0.0, (ch.mass * f if ch else 0.0) + dw)
                channels[key] = ChannelSum(readonly(vec), mass, count, ref)
                s_new = _saturation(count, params)
                pos_sum = pos_sum + s_new * vec
                pos_mass += s_new * mass
            if positives == 0:
                pos_sum, pos_mass = np.zeros(state.dimension), 0.0
            if sign < 0:
                recent = [r for r in recent if r.video_id != i.video_id]
            else:
                recent.append(recent_entry(i, unit))
            b_sum, b_count = add_behaviour(b_sum, b_count, i, dw, sign)
        else:
            neg_count += sign
            if neg_count < 0:
                raise ValueError(f"negative {i.kind} of {i.video_id} is not part of this state")
            if neg_count == 0:
                neg_sum, neg_mass = np.zeros(state.dimension), 0.0
            else:
                neg_sum = neg_sum + dw * unit
                neg_mass = max(0.0, neg_mass - dw)
    recent_t, floor = trim_recent(recent, floor, params.recent_positive_kept)
    return TasteState(ref, state.dimension, readonly(neg_sum), neg_mass, neg_count, channels,
                      recent_t, floor, params.fingerprint(), state.behaviour_run,
                      readonly(b_sum), b_count, state.interests, readonly(pos_sum),
                      max(0.0, pos_mass), positives)


def channel_cells(state: TasteState) -> dict[str, bytes | None]:
    """The stored form of the state's loaded channels; None deletes an emptied one."""
    return {key: encode_channel(ch) if ch.count > 0 else None
            for key, ch in state.channels.items()}


def compute_profile(interactions: Iterable[Interaction], params: ProfileParams,
                    dimension: int) -> np.ndarray | None:
    return build_state(interactions, params, dimension).preference_vector(params)
