"""The read model's recent likes and interests by reference.

A view rewrites the read model (user_preferences). Its recent likes and interest medoids
are the catalogue's own unit embeddings, so the row keeps only their video ids (recent
blob version 3, explanations.py; interests block of dimension 0, interests.py), about
0.6 KB where the vectors took about 20 KB. The feed resolves them through the same
reference cache as the view path (service/view_facts.py). Rows written by older
releases, with vectors, still decode.

A referenced video that cannot be resolved (deleted, or re-embedded with another
model) is left out: the recent like cites nothing, the interest brings no candidates,
until the viewer's next view reclusters the interests (taste_head.py).
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace

from .explanations import decode_recent_block, encode_recent_ids
from .interests import Interest, decode_interest_block, encode_interest_refs
from .models import ProfileReferences, RecentVideo, StoredProfile
from .taste_head import ReferencedVideo, referenced_units
from .taste_profile import TasteState


def references_of(state: TasteState) -> ProfileReferences:
    """What the read model keeps of a state's recent likes and interests."""
    return ProfileReferences(tuple(r.video_id for r in state.recent_positive),
                             tuple(i.reference() for i in state.interests))


def encode_references(refs: ProfileReferences) -> tuple[bytes | None, bytes | None]:
    """(recent_positive, interests) blobs."""
    return (encode_recent_ids(refs.recent) if refs.recent else None,
            encode_interest_refs(refs.interests) if refs.interests else None)


def decode_references(recent_blob: bytes | None, interests_blob: bytes | None
                      ) -> tuple[ProfileReferences, tuple[RecentVideo, ...], tuple[Interest, ...]]:
    """The references, and what an older release's row held resolved already."""
    recent_ids, recent = decode_recent_block(recent_blob) if recent_blob else ((), ())
    refs, interests = decode_interest_block(interests_blob) if interests_blob else ((), ())
    return ProfileReferences(recent_ids, refs), recent, interests


def resolve_profile(profile: StoredProfile, videos: Mapping[uuid.UUID, ReferencedVideo],
                    dimension: int) -> StoredProfile:
    """The profile with its recent likes and interests resolved from `videos`."""
    refs = profile.references
    units = referenced_units(refs.videos(), videos, dimension)
    recent = profile.recent_positive or tuple(
        RecentVideo(v, units[v][0], units[v][1]) for v in refs.recent if v in units)
    interests = profile.interests or tuple(
        Interest(i.medoid_id, units[i.medoid_id][1], i.importance, i.as_of, i.count)
        for i in refs.interests if i.medoid_id in units)
    return replace(profile, recent_positive=recent, interests=interests)
