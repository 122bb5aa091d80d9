"""The taste state's binary format (little-endian), layout 7: a bounded head and one cell
per channel. Layout 7 has the head of layout 6; what it adds is the journal beside it
(taste_journal.py), which a layout-6 reader would ignore.

The head holds the header, the negative sum, P (the saturated sum of every channel), the
recent positives, the behaviour block and the interests: its size depends on the
dimension and `recent_positive_kept`, never on the history. Recent likes and interest
medoids are stored by reference (video id, time; medoid id, importance, as_of, count): their
vectors are the videos' own unit embeddings rounded to float16, so the service re-derives
them bit for bit from the catalogue (taste_head.py). Each channel sum is its own cell
(`encode_channel`), so a view writes only its uploader's. A channel of one video is stored
as mass x its float16 unit vector (exact, checked), 2 bytes a value instead of 8.

Blobs of layouts 1-6 (layout 5 kept the recent likes' and medoids' vectors in the head;
layout 6 had no journal) raise OutdatedState: the service rebuilds such a viewer from
history once, which is the migration."""
from __future__ import annotations

import struct
import uuid
from typing import NamedTuple

import numpy as np

from .interests import ENTRY_SIZE, InterestRef
from .taste_behaviour import decode_behaviour, encode_behaviour
from .taste_weights import ChannelSum, readonly

_MAGIC, _VERSION = b"KVTS", 7
# magic version fingerprint dimension reference_time recent_floor negative_mass
# negative_count n_recent positive_mass positives
_HEADER = struct.Struct("<4sHIIdddIIdI")
_PREFIX = struct.Struct("<4sH")
_RECENT = struct.Struct("<16sd")         # video_id at
_INTERESTS = struct.Struct("<H")         # entries
_CHANNEL = struct.Struct("<dIdB")        # mass count as_of form
_FULL, _SCALED_F16 = 0, 1                # float64 sum | mass x float16 unit vector


class OutdatedState(ValueError):
    """A blob of an older layout: rebuild the state from history."""


class RecentRef(NamedTuple):
    """A recent like as the head stores it; title and embedding are the video's."""
    video_id: uuid.UUID
    at: float


def encode(s) -> bytes:
    """A TasteState's head (see docs/recommendations.md, 'Storage format')."""
    n = s.dimension
    pos_sum = s.positive_sum if s.positive_sum.size else np.zeros(n)
    parts = [_HEADER.pack(_MAGIC, _VERSION, s.fingerprint, n, s.reference_time, s.recent_floor,
                          s.negative_mass, s.negative_count, len(s.recent_positive),
                          s.positive_mass, s.positives),
             np.asarray(s.negative_sum, dtype="<f8").tobytes(),
             np.asarray(pos_sum, dtype="<f8").tobytes()]
    parts += [_RECENT.pack(r.video_id.bytes, r.at) for r in s.recent_positive]
    parts.append(encode_behaviour(s.behaviour_run, s.behaviour_sum, s.behaviour_count))
    parts.append(_INTERESTS.pack(len(s.interests)))
    parts += [i.reference().pack() for i in s.interests]
    return b"".join(parts)


def decode(data: bytes) -> tuple[tuple, tuple[RecentRef, ...], tuple[InterestRef, ...]]:
    """TasteState's constructor arguments in field order (no channels: they are cells; no
    recent likes nor interests: those are references, returned after the arguments)."""
    buf = memoryview(bytes(data))
    pos = 0

    def take(size: int) -> memoryview:
        nonlocal pos
        if pos + size > len(buf):
            raise ValueError("truncated taste state")
        pos += size
        return buf[pos - size:pos]

    def floats(n: int, dtype: str) -> np.ndarray:
        return readonly(np.frombuffer(take(n * np.dtype(dtype).itemsize), dtype=dtype)
                        .astype(dtype[1:]))

    if len(buf) < _PREFIX.size:
        raise ValueError("truncated taste state")
    magic, version = _PREFIX.unpack(buf[:_PREFIX.size])
    if magic != _MAGIC:
        raise ValueError("not a taste state")
    if version < _VERSION:
        raise OutdatedState(f"taste state layout {version} predates layout {_VERSION}")
    if version != _VERSION:
        raise ValueError(f"unsupported taste state version {version}")
    (_, _, fp, n, ref, floor, neg_mass, neg_count, n_recent, pos_mass,
     positives) = _HEADER.unpack(take(_HEADER.size))
    neg_sum = floats(n, "<f8")
    pos_sum = floats(n, "<f8")
    recent = []
    for _ in range(n_recent):
        vid, at = _RECENT.unpack(take(_RECENT.size))
        recent.append(RecentRef(uuid.UUID(bytes=vid), at))
    run, b_sum, b_count, used = decode_behaviour(buf[pos:])
    pos += used
    interests = []
    for _ in range(_INTERESTS.unpack(take(_INTERESTS.size))[0]):
        interests.append(InterestRef.unpack(take(ENTRY_SIZE)))
    if pos != len(buf):
        raise ValueError("trailing bytes after taste state")
    return ((ref, n, neg_sum, neg_mass, neg_count, {}, (), floor, fp,
             run, b_sum, b_count, (), pos_sum, pos_mass, positives),
            tuple(recent), tuple(interests))


def encode_channel(ch: ChannelSum) -> bytes:
    """One channel's cell. A one-video sum is mass x a float16 vector, bit for bit, so it
    takes 2 bytes a value; checked, never assumed."""
    if ch.count == 1 and ch.mass > 0:
        unit = (ch.vector_sum / ch.mass).astype(np.float16)
        if np.array_equal(ch.mass * unit.astype(np.float64), ch.vector_sum):
            return (_CHANNEL.pack(ch.mass, ch.count, ch.as_of, _SCALED_F16)
                    + unit.astype("<f2").tobytes())
    return (_CHANNEL.pack(ch.mass, ch.count, ch.as_of, _FULL)
            + np.asarray(ch.vector_sum, dtype="<f8").tobytes())


def decode_channel(data: bytes, dimension: int) -> ChannelSum:
    mass, count, as_of, form = _CHANNEL.unpack_from(data, 0)
    body = memoryview(data)[_CHANNEL.size:]
    if form == _SCALED_F16 and len(body) == 2 * dimension:
        vector = mass * np.frombuffer(body, dtype="<f2").astype(np.float64)
    elif form == _FULL and len(body) == 8 * dimension:
        vector = np.frombuffer(body, dtype="<f8").astype(np.float64)
    else:
        raise ValueError(f"channel cell of form {form} and {len(body)} bytes does not fit "
                         f"dimension {dimension}")
    return ChannelSum(readonly(vector), mass, count, as_of)
