"""The taste state's binary format (little-endian): a header, the negative sum, the
channel sums, the recent positives, then (version 2) the behaviour block and (version 3)
the interests. Older blobs still decode, without what they lack."""
from __future__ import annotations

import struct
import uuid

import numpy as np

from .interests import decode_interests, encode_interests
from .taste_behaviour import decode_behaviour, encode_behaviour
from .taste_weights import ChannelSum, RecentPositive, readonly

_MAGIC, _VERSION = b"KVTS", 3  # 3 added interests, 2 the behaviour block; all decode
# magic version fingerprint dimension reference_time recent_floor negative_mass
# negative_count n_channels n_recent
_HEADER = struct.Struct("<4sHIIdddIII")
_CHANNEL = struct.Struct("<HdId")        # key_len mass count as_of
_RECENT = struct.Struct("<16sdI")        # video_id at title_len


def encode(s) -> bytes:
    """A TasteState's bytes (see docs/recommendations.md, 'Storage format')."""
    n = s.dimension
    parts = [_HEADER.pack(_MAGIC, _VERSION, s.fingerprint, n, s.reference_time, s.recent_floor,
                          s.negative_mass, s.negative_count, len(s.channels),
                          len(s.recent_positive)),
             np.asarray(s.negative_sum, dtype="<f8").tobytes()]
    for key in sorted(s.channels):  # sorted: equal states give equal bytes
        ch, k = s.channels[key], key.encode()
        parts += [_CHANNEL.pack(len(k), ch.mass, ch.count, ch.as_of), k,
                  np.asarray(ch.vector_sum, dtype="<f8").tobytes()]
    for r in s.recent_positive:
        t = r.title.encode()
        parts += [_RECENT.pack(r.video_id.bytes, r.at, len(t)), t,
                  np.asarray(r.embedding, dtype="<f4").tobytes()]
    parts.append(encode_behaviour(s.behaviour_run, s.behaviour_sum, s.behaviour_count))
    parts.append(encode_interests(s.interests))
    return b"".join(parts)


def decode(data: bytes) -> tuple:
    """TasteState's constructor arguments, in field order."""
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

    (magic, version, fp, n, ref, floor, neg_mass, neg_count, n_ch,
     n_recent) = _HEADER.unpack(take(_HEADER.size))
    if magic != _MAGIC:
        raise ValueError("not a taste state")
    if version not in (1, 2, _VERSION):
        raise ValueError(f"unsupported taste state version {version}")
    neg_sum = floats(n, "<f8")
    channels = {}
    for _ in range(n_ch):
        klen, mass, count, as_of = _CHANNEL.unpack(take(_CHANNEL.size))
        key = bytes(take(klen)).decode()
        channels[key] = ChannelSum(floats(n, "<f8"), mass, count, as_of)
    recent = []
    for _ in range(n_recent):
        vid, at, tlen = _RECENT.unpack(take(_RECENT.size))
        title = bytes(take(tlen)).decode()
        recent.append(RecentPositive(uuid.UUID(bytes=vid), title, at, floats(n, "<f4")))
    run, b_sum, b_count = ("", readonly(np.zeros(0)), 0)
    if version >= 2:
        run, b_sum, b_count, used = decode_behaviour(buf[pos:])
        pos += used
    interests = ()
    if version >= 3:
        interests, used = decode_interests(buf[pos:])
        pos += used
    if pos != len(buf):
        raise ValueError("trailing bytes after taste state")
    return (ref, n, neg_sum, neg_mass, neg_count, channels, tuple(recent), floor, fp,
            run, b_sum, b_count, interests)
