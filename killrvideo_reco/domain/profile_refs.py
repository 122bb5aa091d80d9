"""The read model's recent likes and interests by reference.

A view rewrites the read model (user_preferences). Its recent likes and interest medoids
are the catalogue's own unit embeddings, so the row keeps only their video ids (recent
blob version 3; interests blob of dimension 0), about 0.6 KB where the vectors took
about 20 KB. The feed resolves them through the same reference cache as the view path
(service/view_facts.py). Rows written by older releases, with vectors, still decode.

A referenced video that cannot be resolved (deleted, or re-embedded with another
model) is left out: the recent like cites nothing, the interest brings no candidates,
until the viewer's next view reclusters the interests (taste_head.py).
"""
from __future__ import annotations

import struct
import uuid
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from .explanations import decode_recent
from .interests import Interest, decode_interests
from .models import ProfileReferences, RecentVideo, StoredProfile
from .taste_codec import InterestRef
from .taste_head import ReferencedVideo, referenced_unit
from .taste_profile import TasteState

_RECENT = struct.Struct("<BHH")     # version entries dimension, as explanations.py writes
_RECENT_BY_ID = 3
_INTERESTS = struct.Struct("<HI")   # entries dimension, as interests.py writes
_INTEREST = struct.Struct("<16sddI")  # medoid_id importance as_of count


def references_of(state: TasteState) -> ProfileReferences:
    """What the read model keeps of a state's recent likes and interests."""
    return ProfileReferences(
        tuple(r.video_id for r in state.recent_positive),
        tuple(InterestRef(i.medoid_id, i.importance, i.as_of, i.count)
              for i in state.interests))


def encode_references(refs: ProfileReferences) -> tuple[bytes | None, bytes | None]:
    """(recent_positive, interests) blobs."""
    recent = (_RECENT.pack(_RECENT_BY_ID, len(refs.recent), 0)
              + b"".join(v.bytes for v in refs.recent)) if refs.recent else None
    interests = (_INTERESTS.pack(len(refs.interests), 0) + b"".join(
        _INTEREST.pack(i.medoid_id.bytes, i.importance, i.as_of, i.count)
        for i in refs.interests)) if refs.interests else None
    return recent, interests


def decode_references(recent_blob: bytes | None, interests_blob: bytes | None
                      ) -> tuple[ProfileReferences, tuple[RecentVideo, ...], tuple[Interest, ...]]:
    """The references, and what an older release's row held resolved already."""
    recent_ids: tuple[uuid.UUID, ...] = ()
    recent: tuple[RecentVideo, ...] = ()
    if recent_blob:
        version, count, _ = _RECENT.unpack_from(recent_blob, 0)
        if version == _RECENT_BY_ID:
            start = _RECENT.size
            recent_ids = tuple(uuid.UUID(bytes=bytes(recent_blob[start + 16 * n:start + 16 * n + 16]))
                               for n in range(count))
        else:
            recent = tuple(decode_recent(recent_blob))
            recent_ids = tuple(r.video_id for r in recent)
    refs: tuple[InterestRef, ...] = ()
    interests: tuple[Interest, ...] = ()
    if interests_blob:
        count, dimension = _INTERESTS.unpack_from(interests_blob, 0)
        if dimension == 0:
            refs = tuple(InterestRef(uuid.UUID(bytes=bytes(vid)), importance, as_of, n)
                         for vid, importance, as_of, n in _INTEREST.iter_unpack(
                             bytes(interests_blob[_INTERESTS.size:])))
            if len(refs) != count:
                raise ValueError("truncated interests block")
        else:
            interests = decode_interests(interests_blob)[0]
            refs = tuple(InterestRef(i.medoid_id, i.importance, i.as_of, i.count)
                         for i in interests)
    return ProfileReferences(recent_ids, refs), recent, interests


def resolve_profile(profile: StoredProfile, videos: Mapping[uuid.UUID, ReferencedVideo],
                    dimension: int) -> StoredProfile:
    """The profile with its recent likes and interests resolved from `videos`."""
    units: dict[uuid.UUID, tuple[str, np.ndarray]] = {}
    for video_id in profile.references.videos():
        found = videos.get(video_id)
        unit = None if found is None else referenced_unit(found[1], dimension)
        if unit is not None and found is not None:
            units[video_id] = (found[0], unit)
    refs = profile.references
    recent = profile.recent_positive or tuple(
        RecentVideo(v, units[v][0], units[v][1]) for v in refs.recent if v in units)
    interests = profile.interests or tuple(
        Interest(i.medoid_id, units[i.medoid_id][1], i.importance, i.as_of, i.count)
        for i in refs.interests if i.medoid_id in units)
    return replace(profile, recent_positive=recent, interests=interests)
