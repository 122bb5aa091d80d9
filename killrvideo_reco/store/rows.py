"""Small conversions of what the driver returns."""
from __future__ import annotations

from datetime import datetime, timezone


def as_utc(moment: datetime | None) -> datetime | None:
    """The driver returns naive datetimes that are UTC: make that explicit."""
    return moment.replace(tzinfo=timezone.utc) if moment and moment.tzinfo is None else moment
