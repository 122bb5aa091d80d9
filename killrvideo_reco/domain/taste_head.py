"""A stored taste-state head (layout 6) and its resolution into a TasteState.

The head keeps the recent likes and the interest medoids by reference. Their vectors are
the videos' unit content embeddings rounded to float16 (unit_embedding), so resolving the
references from the catalogue gives the bits that were applied, as long as the embedding
model is the state's (a model change rebuilds the state from history anyway).

A referenced video that cannot be resolved (deleted, or re-embedded with another model):
its like leaves the recent list, and when it was an interest's medoid the interests are
reclustered from the recent likes that remain, as a commit does. The sums keep its
contribution, as they do today, until the viewer's next rebuild from history. The recent
list then holds fewer likes than `recent_positive_kept` until newer ones arrive.
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .interests import Interest, InterestRef
from .taste_codec import RecentRef, decode
from .taste_profile import ChannelSum, ProfileParams, TasteState, cluster_recent
from .taste_weights import RecentPositive, readonly, unit_vector

# A referenced video: its title and its vector as applied (applied_unit of its embedding),
# computed once when it enters the process's reference cache, not at every resolve.
ReferencedVideo = tuple[str, np.ndarray]


@dataclass(frozen=True)
class StoredHead:
    base: TasteState  # everything but the recent likes and the interests
    recent: tuple[RecentRef, ...] = ()
    interests: tuple[InterestRef, ...] = ()

    @classmethod
    def from_bytes(cls, data: bytes) -> "StoredHead":
        args, recent, interests = decode(data)
        return cls(TasteState(*args), recent, interests)

    def references(self) -> list[uuid.UUID]:
        """The videos whose vectors `resolve` needs, each once."""
        return list(dict.fromkeys([*(r.video_id for r in self.recent),
                                   *(i.medoid_id for i in self.interests)]))

    def resolve(self, videos: Mapping[uuid.UUID, ReferencedVideo],
                params: ProfileParams) -> TasteState:
        """The full state, given the referenced videos the catalogue still has."""
        units = referenced_units(self.references(), videos, self.base.dimension)
        recent = tuple(RecentPositive(r.video_id, units[r.video_id][0], r.at,
                                      units[r.video_id][1])
                       for r in self.recent if r.video_id in units)
        if all(i.medoid_id in units for i in self.interests):
            interests = tuple(Interest(i.medoid_id, units[i.medoid_id][1], i.importance,
                                       i.as_of, i.count) for i in self.interests)
        else:  # a medoid is gone: pick the interests again from the likes that remain
            interests = cluster_recent(recent, self.base.reference_time, params)
        return replace(self.base, recent_positive=recent, interests=interests)

    # What needs no reference: the profile vector, the counts and the channel cells.
    @property
    def dimension(self) -> int:
        return self.base.dimension

    @property
    def reference_time(self) -> float:
        return self.base.reference_time

    @property
    def channels(self) -> Mapping[str, ChannelSum]:
        return self.base.channels

    def with_channels(self, channels: Mapping[str, ChannelSum]) -> "StoredHead":
        return replace(self, base=self.base.with_channels(channels))

    def positive_count(self) -> int:
        return self.base.positive_count()

    def preference_vector(self, params: ProfileParams) -> np.ndarray | None:
        return self.base.preference_vector(params)


def referenced_units(video_ids: Sequence[uuid.UUID], videos: Mapping[uuid.UUID, ReferencedVideo],
                     dimension: int) -> dict[uuid.UUID, ReferencedVideo]:
    """The referenced videos that `videos` resolves, with vectors of the state's dimension."""
    units: dict[uuid.UUID, ReferencedVideo] = {}
    for video_id in video_ids:
        found = videos.get(video_id)
        if found is not None and found[1].shape == (dimension,):
            units[video_id] = found
    return units


def applied_unit(embedding) -> np.ndarray | None:
    """A referenced video's vector as it was applied: its unit embedding, float16-rounded,
    as read-only float32 (None when it has no usable direction)."""
    unit = unit_vector(np.asarray(embedding, dtype=np.float64))
    return None if unit is None else readonly(unit.astype(np.float32))
