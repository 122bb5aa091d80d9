"""'Based on' explanations: which of the viewer's own recent positive videos each
recommended item is closest to. Kept with the profile as a compact blob, so the
feed needs no per-item query."""
from __future__ import annotations

import struct
import uuid
from collections.abc import Sequence

import numpy as np

from killrvideo_reco.domain.models import BasedOn, RecentVideo
from killrvideo_reco.domain.taste_profile import TasteState

# Version 1 holds float32 vectors, 2 float16 ones (the rounded unit embeddings of the
# taste state, so nothing is lost and the read model written at every view halves).
# Version 3 holds the video ids only (the read model by reference, profile_refs.py).
_F32_VERSION, _F16_VERSION, _BY_ID_VERSION = 1, 2, 3
_HEADER = struct.Struct("<BHH")   # version, entries, dimension
_TITLE_LEN = struct.Struct("<H")


def encode_recent(entries: Sequence[RecentVideo]) -> bytes:
    dimension = entries[0].unit_vector.shape[0] if entries else 0
    vectors = [np.asarray(e.unit_vector, dtype=np.float32) for e in entries]
    f16 = all(np.array_equal(v.astype(np.float16).astype(np.float32), v) for v in vectors)
    parts = [_HEADER.pack(_F16_VERSION if f16 else _F32_VERSION, len(entries), dimension)]
    for entry, vector in zip(entries, vectors):
        title = entry.title.encode("utf-8")[:1000]
        parts += [entry.video_id.bytes, _TITLE_LEN.pack(len(title)), title,
                  vector.astype("<f2" if f16 else "<f4").tobytes()]
    return b"".join(parts)


def encode_recent_ids(video_ids: Sequence[uuid.UUID]) -> bytes:
    return _HEADER.pack(_BY_ID_VERSION, len(video_ids), 0) + b"".join(v.bytes for v in video_ids)


def decode_recent_block(blob: bytes) -> tuple[tuple[uuid.UUID, ...], tuple[RecentVideo, ...]]:
    """(video ids, recent videos) of a stored blob: version 3 holds the ids only; an
    older release's blob holds the vectors too."""
    version, count, _ = _HEADER.unpack_from(blob, 0)
    if version == _BY_ID_VERSION:
        start = _HEADER.size
        if len(blob) < start + 16 * count:
            raise ValueError("truncated recent block")
        return tuple(uuid.UUID(bytes=bytes(blob[start + 16 * n:start + 16 * n + 16]))
                     for n in range(count)), ()
    recent = tuple(decode_recent(blob))
    return tuple(r.video_id for r in recent), recent


def decode_recent(blob: bytes) -> list[RecentVideo]:
    version, count, dimension = _HEADER.unpack_from(blob, 0)
    if version not in (_F32_VERSION, _F16_VERSION):
        return []  # written by a newer release; explanations are optional
    dtype = "<f2" if version == _F16_VERSION else "<f4"
    offset, entries = _HEADER.size, []
    for _ in range(count):
        video_id = uuid.UUID(bytes=bytes(blob[offset:offset + 16]))
        (title_len,) = _TITLE_LEN.unpack_from(blob, offset + 16)
        offset += 16 + _TITLE_LEN.size
        title = bytes(blob[offset:offset + title_len]).decode("utf-8", "replace")
        offset += title_len
        vector = np.frombuffer(blob, dtype=dtype, count=dimension, offset=offset).astype(np.float32)
        offset += np.dtype(dtype).itemsize * dimension
        entries.append(RecentVideo(video_id, title, vector))
    return entries


def based_on_for_items(item_vectors: Sequence[np.ndarray | None], recent: Sequence[RecentVideo],
                       limit: int = 3, min_similarity: float = 0.0) -> list[list[BasedOn]]:
    """Per item, up to `limit` recent videos by cosine similarity, best first (ties go
    to the more recent). Only similarities strictly above `min_similarity` count, so
    the default never cites an orthogonal or opposite video; a zero vector cites none."""
    out: list[list[BasedOn]] = [[] for _ in item_vectors]
    if not recent or limit <= 0:
        return out
    matrix = np.stack([r.unit_vector for r in recent]).astype(np.float64)
    rows = [n for n, v in enumerate(item_vectors)
            if v is not None and v.shape[0] == matrix.shape[1]]
    if not rows:
        return out
    items = np.stack([np.asarray(item_vectors[n]) for n in rows]).astype(np.float64)
    norms = np.linalg.norm(items, axis=1)
    usable = norms > 1e-12
    # One matrix product for the page: every item's cosine to every recent video.
    scores = (items @ matrix.T) / np.where(usable, norms, 1.0)[:, None]
    best = np.argsort(-scores, axis=1, kind="stable")[:, :limit].tolist()
    values = scores.tolist()
    for k, n in enumerate(rows):
        if usable[k]:
            row = values[k]
            out[n] = [BasedOn(recent[i].video_id, recent[i].title)
                      for i in best[k] if row[i] > min_similarity]
    return out


def recent_videos(state: TasteState) -> list[RecentVideo]:
    """The profile's recent positive videos, newest first, as kept for explanations."""
    return [RecentVideo(r.video_id, r.title, r.embedding) for r in state.recent_positive]
