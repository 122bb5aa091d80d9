"""The taste state's binary format (little-endian): a header, the negative sum, the
channel sums, the recent positives, then (version 2) the behaviour block and (version 3)
the interests. Older blobs still decode, without what they lack.

Version 4 stores losslessly in float16 what is exactly a float16 vector: a channel of one
video (its sum is mass x the video's rounded unit embedding) and the recent embeddings;
a one-video channel whose video is among the recent likes just points at it. That is most
of a state: a viewer of 50 creators' videos drops from 193 KB to ~50 KB."""
from __future__ import annotations

import struct
import uuid

import numpy as np

from .interests import Interest, decode_interests, encode_interests
from .taste_behaviour import decode_behaviour, encode_behaviour
from .taste_weights import ChannelSum, RecentPositive, readonly

_MAGIC, _VERSION = b"KVTS", 4  # 4 float16 forms, 3 interests, 2 behaviour; all decode
# magic version fingerprint dimension reference_time recent_floor negative_mass
# negative_count n_channels n_recent
_HEADER = struct.Struct("<4sHIIdddIII")
_CHANNEL = struct.Struct("<HdId")        # key_len mass count as_of
_FORM = struct.Struct("<B")              # v4: how the vector that follows is stored
# float64 sum | mass x float16 unit vector | mass x the unit of recent like #index
_FULL, _SCALED_F16, _SCALED_RECENT = 0, 1, 2
_INDEX = struct.Struct("<H")
_RECENT_F32, _RECENT_F16 = 0, 1
_RECENT = struct.Struct("<16sdI")        # video_id at title_len


def encode(s) -> bytes:
    """A TasteState's bytes (see docs/recommendations.md, 'Storage format')."""
    n = s.dimension
    parts = [_HEADER.pack(_MAGIC, _VERSION, s.fingerprint, n, s.reference_time, s.recent_floor,
                          s.negative_mass, s.negative_count, len(s.channels),
                          len(s.recent_positive)),
             np.asarray(s.negative_sum, dtype="<f8").tobytes()]
    # v4: the recent likes first, so a one-video channel can point at its video's entry.
    recent = (np.stack([r.embedding for r in s.recent_positive]).astype(np.float32)
              if s.recent_positive else np.zeros((0, n), np.float32))
    recent_f16 = bool(np.array_equal(recent.astype(np.float16).astype(np.float32), recent))
    stored = recent.astype("<f2" if recent_f16 else "<f4")
    parts.append(_FORM.pack(_RECENT_F16 if recent_f16 else _RECENT_F32))
    for r, row in zip(s.recent_positive, stored):
        t = r.title.encode()
        parts += [_RECENT.pack(r.video_id.bytes, r.at, len(t)), t, row.tobytes()]
    in_recent = {row.tobytes(): i for i, row in enumerate(stored)} if recent_f16 else {}
    keys = sorted(s.channels)  # sorted: equal states give equal bytes
    for key, vector in zip(keys, _channel_vectors([s.channels[k] for k in keys], in_recent)):
        ch, k = s.channels[key], key.encode()
        parts += [_CHANNEL.pack(len(k), ch.mass, ch.count, ch.as_of), k, vector]
    parts.append(encode_behaviour(s.behaviour_run, s.behaviour_sum, s.behaviour_count))
    parts.append(encode_interests(s.interests))
    return b"".join(parts)


def _channel_vectors(channels, in_recent: dict[bytes, int]) -> list[bytes]:
    """Each channel's form byte and vector. A one-video channel's sum is mass x a float16
    vector, bit for bit, so it takes 2 bytes a value, or none when that vector is a
    recent like's (`in_recent`: float16 bytes -> index); checked, never assumed."""
    out = [_FORM.pack(_FULL) + np.asarray(ch.vector_sum, dtype="<f8").tobytes()
           for ch in channels]
    singles = [i for i, ch in enumerate(channels) if ch.count == 1 and ch.mass > 0]
    if singles:
        sums = np.stack([channels[i].vector_sum for i in singles])
        masses = np.array([channels[i].mass for i in singles])[:, None]
        units = (sums / masses).astype(np.float16)
        exact = np.all(masses * units.astype(np.float64) == sums, axis=1)
        for i, unit, ok in zip(singles, units.astype("<f2"), exact):
            if not ok:
                continue
            raw = unit.tobytes()
            at = in_recent.get(raw)
            out[i] = (_FORM.pack(_SCALED_F16) + raw if at is None
                      else _FORM.pack(_SCALED_RECENT) + _INDEX.pack(at))
    return out


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
    if version not in (1, 2, 3, _VERSION):
        raise ValueError(f"unsupported taste state version {version}")
    neg_sum = floats(n, "<f8")

    def read_recent() -> list[RecentPositive]:
        form = _FORM.unpack(take(_FORM.size))[0] if version >= 4 else _RECENT_F32
        out = []
        for _ in range(n_recent):
            vid, at, tlen = _RECENT.unpack(take(_RECENT.size))
            title = bytes(take(tlen)).decode()
            embedding = (floats(n, "<f2").astype(np.float32) if form == _RECENT_F16
                         else floats(n, "<f4"))
            out.append(RecentPositive(uuid.UUID(bytes=vid), title, at, readonly(embedding)))
        return out

    def read_channels(recent: list[RecentPositive]) -> dict[str, ChannelSum]:
        out = {}
        for _ in range(n_ch):
            klen, mass, count, as_of = _CHANNEL.unpack(take(_CHANNEL.size))
            key = bytes(take(klen)).decode()
            form = _FORM.unpack(take(_FORM.size))[0] if version >= 4 else _FULL
            if form == _SCALED_F16:
                vector = readonly(mass * floats(n, "<f2").astype(np.float64))
            elif form == _SCALED_RECENT:
                (index,) = _INDEX.unpack(take(_INDEX.size))
                if index >= len(recent):
                    raise ValueError("channel points past the recent list")
                vector = readonly(mass * recent[index].embedding.astype(np.float64))
            elif form == _FULL:
                vector = floats(n, "<f8")
            else:
                raise ValueError(f"unknown channel form {form}")
            out[key] = ChannelSum(vector, mass, count, as_of)
        return out

    if version >= 4:  # recent likes first (channels may point at them)
        recent = read_recent()
        channels = read_channels(recent)
    else:
        channels = read_channels([])
        recent = read_recent()
    run, b_sum, b_count = ("", readonly(np.zeros(0)), 0)
    if version >= 2:
        run, b_sum, b_count, used = decode_behaviour(buf[pos:])
        pos += used
    interests: tuple[Interest, ...] = ()
    if version >= 3:
        interests, used = decode_interests(buf[pos:])
        pos += used
    if pos != len(buf):
        raise ValueError("trailing bytes after taste state")
    return (ref, n, neg_sum, neg_mass, neg_count, channels, tuple(recent), floor, fp,
            run, b_sum, b_count, interests)
