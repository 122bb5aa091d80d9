"""Building blocks of taste profiles: per-interaction weights (engagement, bounces,
hides, recency decay) and the small value types a TasteState is made of.

Pure functions on plain values; aggregation into a profile lives in taste_profile.py.
"""
from __future__ import annotations

import math
import struct
import uuid
import zlib
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

SECONDS_PER_DAY = 86400.0
# Unit embeddings are rounded to float16 on the way in (both online and in batch), so a
# one-video channel and the recent list are stored in 2 bytes per dimension without loss.
# Part of the fingerprint: states summed from unrounded vectors are rebuilt once.
UNIT_ROUNDING = 16
# Layout 5 keeps P and each channel in its own cell, layout 6 the recent likes and medoids
# by reference, layout 7 adds the journal of commits since the head (taste_journal.py);
# states of older layouts are rebuilt from history once (their fingerprint differs), which
# is the migration. A replica of layout 6 rebuilds a layout-7 state too (it cannot read
# it), so a rolling upgrade never applies a journal twice.
STATE_LAYOUT = 7


@dataclass(frozen=True)
class ProfileParams:
    half_life_days: float = 200.0
    bounce_threshold: float = 0.10
    bounce_weight: float = -0.3
    hidden_weight: float = -0.5
    completion_cap: float = 2.0
    channel_saturation: float = 3.0
    min_positive_videos: int = 3
    default_duration_s: float = 600.0
    recent_positive_kept: int = 20  # for "based on" explanations and interests
    negative_share: float = 0.5  # bounces + hides push at most this share of the likes
    interest_count: int = 3      # k interests per viewer
    interest_similarity: float = 0.5  # mean cosine within an interest (the cut)

    def __post_init__(self) -> None:
        def check(ok: bool, what: str) -> None:
            if not ok:
                raise ValueError(f"ProfileParams: {what}")

        finite = all(math.isfinite(float(v)) for v in (
            self.half_life_days, self.bounce_threshold, self.bounce_weight, self.hidden_weight,
            self.completion_cap, self.channel_saturation, self.default_duration_s))
        check(finite, "all values must be finite")
        check(self.half_life_days > 0, "half_life_days must be > 0")
        check(self.completion_cap > 0, "completion_cap must be > 0")
        # threshold > 0 makes "positive" and "weight > 0" the same thing
        check(0 < self.bounce_threshold <= self.completion_cap,
              "need 0 < bounce_threshold <= completion_cap")
        check(self.bounce_weight <= 0, "bounce_weight must be <= 0")
        check(self.hidden_weight <= 0, "hidden_weight must be <= 0")
        check(self.channel_saturation > 0, "channel_saturation must be > 0")
        check(self.min_positive_videos >= 1, "min_positive_videos must be >= 1")
        check(self.default_duration_s > 0, "default_duration_s must be > 0")
        check(self.recent_positive_kept >= 0, "recent_positive_kept must be >= 0")
        check(0.0 <= self.negative_share < 1.0, "negative_share must be in [0, 1)")
        check(self.interest_count >= 1, "interest_count must be >= 1")
        check(-1.0 <= self.interest_similarity <= 1.0, "interest_similarity must be in [-1, 1]")

    @property
    def decay_rate(self) -> float:
        """lambda per second: weight halves every half_life_days."""
        return math.log(2.0) / (self.half_life_days * SECONDS_PER_DAY)

    def fingerprint(self) -> int:
        """Non-zero 32-bit digest of the parameters baked into stored sums.

        min_positive_videos, recent_positive_kept, negative_share and the interest
        settings are applied at read time or re-derived by the batch rebuild, so changing
        them does not invalidate stored states. channel_saturation is baked into the
        stored P (state layout 5), so it is part of the digest.
        """
        packed = struct.pack(
            "<7dII", self.half_life_days, self.bounce_threshold, self.bounce_weight,
            self.hidden_weight, self.completion_cap, self.default_duration_s,
            self.channel_saturation, UNIT_ROUNDING, STATE_LAYOUT)
        return zlib.crc32(packed) or 1  # 0 means "not bound yet" in TasteState


@dataclass(frozen=True, eq=False)  # eq=False: numpy arrays have no truthy ==
class Interaction:
    video_id: uuid.UUID
    embedding: np.ndarray  # shape (N,)
    uploader_id: uuid.UUID | None
    at: float  # epoch seconds (last watch time, or hide time)
    kind: Literal["watch", "hide"]
    seconds_watched: float = 0.0  # total over all plays (watch only)
    duration_s: float | None = None
    title: str = ""
    behaviour: np.ndarray | None = None  # the video's raw vector in the state's behaviour run

    def __post_init__(self) -> None:
        if self.kind not in ("watch", "hide"):
            raise ValueError(f"Interaction.kind must be 'watch' or 'hide', not {self.kind!r}")
        if not math.isfinite(self.at):
            raise ValueError("Interaction.at must be finite")
        if not (math.isfinite(self.seconds_watched) and self.seconds_watched >= 0):
            raise ValueError("Interaction.seconds_watched must be finite and >= 0")


def completion(i: Interaction, params: ProfileParams) -> float:
    """Fraction of the video watched, summed over plays (so rewatches exceed 1)."""
    d = i.duration_s
    if d is None or not math.isfinite(d) or d <= 0:  # bad metadata counts as unknown
        d = params.default_duration_s
    return i.seconds_watched / d


def interaction_weight(i: Interaction, params: ProfileParams) -> float:
    """Undecayed signed weight: > 0 for a liked video, <= 0 for a bounce or a hide."""
    if i.kind == "hide":
        return params.hidden_weight
    c = completion(i, params)
    if c < params.bounce_threshold:
        return params.bounce_weight
    return min(c, params.completion_cap)


def is_positive(i: Interaction, params: ProfileParams) -> bool:
    return interaction_weight(i, params) > 0


def decay(age_s: float, params: ProfileParams) -> float:
    """exp(-lambda * age); age in seconds, may be negative for 'newer than reference'."""
    return math.exp(-params.decay_rate * age_s)


def unit_embedding(i: Interaction, dimension: int) -> np.ndarray | None:
    """The embedding scaled to unit length, or None if it carries no direction.

    Normalising makes the weight alone decide a video's pull. A missing (all-zero) or
    non-finite embedding is skipped rather than failing the whole profile. Rounded to
    float16 (see UNIT_ROUNDING): at most 5e-4 relative per component, far below what
    ranking notices, and it makes the stored state 3x smaller.
    """
    e = np.asarray(i.embedding, dtype=np.float64)
    if e.shape != (dimension,):
        raise ValueError(f"embedding of {i.video_id} has shape {e.shape}, want ({dimension},)")
    return unit_vector(e)


def unit_vector(e: np.ndarray) -> np.ndarray | None:
    """unit_embedding of a float64 vector: the same bits for the same video, whether it is
    applied now or re-derived later from the catalogue (taste_head.py)."""
    if not np.all(np.isfinite(e)):
        return None
    n = float(np.linalg.norm(e))
    if n <= 1e-12:
        return None
    return (e / n).astype(np.float16).astype(np.float64)


def channel_key(i: Interaction) -> str:
    return channel_of(i.video_id, i.uploader_id)


def channel_of(video_id: uuid.UUID, uploader_id: uuid.UUID | None) -> str:
    """Saturation bucket: the uploader, or the video alone when the uploader is unknown."""
    return str(uploader_id) if uploader_id is not None else f"video:{video_id}"


def readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)  # states are shared between versions, so never mutate in place
    return a


@dataclass(frozen=True, eq=False)
class ChannelSum:
    vector_sum: np.ndarray  # float64, decayed to as_of
    mass: float
    count: int
    as_of: float  # per-channel reference time, so an update touches one channel only


class RecentPositive(NamedTuple):
    video_id: uuid.UUID
    title: str
    at: float
    embedding: np.ndarray  # unit float32


def recent_order(r: RecentPositive) -> tuple[float, bytes]:
    return (r.at, r.video_id.bytes)


def trim_recent(recent: list[RecentPositive], floor: float, kept: int):
    """Keep exactly the positives newer than `floor`, at most `kept` of them.

    Whatever is dropped raises the floor, so a later removal never lets an older video
    slip into a list that is missing a newer one: the online list stays a prefix of the
    batch list.
    """
    recent.sort(key=recent_order, reverse=True)
    if len(recent) > kept:
        floor = max(floor, recent[kept].at)
    return tuple(r for r in recent if r.at > floor), floor


def recent_entry(i: Interaction, unit: np.ndarray) -> RecentPositive:
    return RecentPositive(i.video_id, i.title, float(i.at), readonly(unit.astype(np.float32)))


def usable_behaviour(i: Interaction) -> np.ndarray | None:
    """The raw behaviour vector (inner products need its length), None if unusable."""
    if i.behaviour is None:
        return None
    b = np.asarray(i.behaviour, dtype=np.float64)
    return b if b.ndim == 1 and b.size and np.all(np.isfinite(b)) else None
