"""The behaviour block of a taste state: the decayed, weighted sum of the raw behaviour
vectors of a viewer's positive videos, for one training run. Only positives count:
bounces and hides are not co-watching evidence (the feed excludes them anyway)."""
from __future__ import annotations

import struct

import numpy as np

from .taste_weights import Interaction, readonly, usable_behaviour

_HEADER = struct.Struct("<HII")  # run_len count dimension


def add_behaviour(total: np.ndarray, count: int, i: Interaction, decayed_weight: float,
                  sign: int) -> tuple[np.ndarray, int]:
    """Add (sign=1) or remove (sign=-1) one positive's contribution."""
    b = usable_behaviour(i)
    if b is None:  # skipped when added, so skipped when removed
        return total, count
    if total.size == 0:
        total = np.zeros(b.shape[0])
    if b.shape != total.shape:
        raise ValueError(f"behaviour vector of {i.video_id} has shape {b.shape}, "
                         f"the state holds {total.shape}")
    count += sign
    if count < 0:
        raise ValueError(f"behaviour of {i.video_id} is not part of this state")
    if count == 0:
        return np.zeros(total.shape[0]), 0  # exact reset: no float residue
    return total + decayed_weight * b, count


def encode_behaviour(run: str, total: np.ndarray, count: int) -> bytes:
    key = run.encode()
    return (_HEADER.pack(len(key), count, total.shape[0]) + key
            + np.asarray(total, dtype="<f8").tobytes())


def decode_behaviour(buf: memoryview) -> tuple[str, np.ndarray, int, int]:
    """(run, sum, count, bytes used)."""
    if len(buf) < _HEADER.size:
        raise ValueError("truncated taste state (behaviour block)")
    key_len, count, dimension = _HEADER.unpack(buf[:_HEADER.size])
    end = _HEADER.size + key_len + 8 * dimension
    if len(buf) < end:
        raise ValueError("truncated taste state (behaviour block)")
    run = bytes(buf[_HEADER.size:_HEADER.size + key_len]).decode()
    total = np.frombuffer(buf[_HEADER.size + key_len:end], dtype="<f8").astype(np.float64)
    return run, readonly(total), count, end
