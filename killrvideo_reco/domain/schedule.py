"""Scheduled training (TRAIN_SCHEDULE): slots aligned to the epoch, so every replica
agrees on when the current one began, and a slot is due until a training job has
started in it (whatever its outcome: a failed run is retried at the next slot)."""
from __future__ import annotations

import math
import re
from datetime import datetime, timezone

_EVERY = re.compile(r"^\s*every\s+(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
MIN_INTERVAL_S = 60.0


def parse_schedule(spec: str) -> float | None:
    """'every 24h' -> 86400.0 seconds; '' -> None (off). Raises ValueError otherwise."""
    if not spec.strip():
        return None
    match = _EVERY.match(spec)
    if not match:
        raise ValueError(f"bad TRAIN_SCHEDULE {spec!r}: want e.g. 'every 24h', 'every 30m', "
                         "'every 7d', or empty for off")
    seconds = float(match.group(1)) * _UNIT_S[match.group(2).lower()]
    if seconds < MIN_INTERVAL_S:
        raise ValueError(f"TRAIN_SCHEDULE {spec!r} is shorter than {MIN_INTERVAL_S:g}s")
    return seconds


def slot_start(now: datetime, interval_s: float) -> datetime:
    """The start of the slot `now` is in (slots tile time from the Unix epoch)."""
    stamp = math.floor(now.timestamp() / interval_s) * interval_s
    return datetime.fromtimestamp(stamp, timezone.utc)


def is_due(now: datetime, interval_s: float, last_started: datetime | None) -> bool:
    """Whether to start a run now: no training job has started in the current slot."""
    return last_started is None or last_started < slot_start(now, interval_s)


def next_slot(now: datetime, interval_s: float) -> datetime:
    return datetime.fromtimestamp(slot_start(now, interval_s).timestamp() + interval_s,
                                  timezone.utc)
