"""Small conversions of what the driver returns."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from killrvideo_reco.domain.behaviour import SLOTS

# Both slots' behaviour columns, as the SELECTs that feed slot_vectors name them.
SLOT_COLUMNS = ", ".join(f"behaviour_{slot}, behaviour_{slot}_run" for slot in SLOTS)


def as_utc(moment: datetime | None) -> datetime | None:
    """The driver returns naive datetimes that are UTC: make that explicit."""
    return moment.replace(tzinfo=timezone.utc) if moment and moment.tzinfo is None else moment


def slot_vectors(row, convert: Callable = lambda vector: vector) -> dict[str, tuple]:
    """{slot: (run id, converted vector)} for each slot the row has both in."""
    found = {}
    for slot in SLOTS:
        run, vector = getattr(row, f"behaviour_{slot}_run"), getattr(row, f"behaviour_{slot}")
        if run is not None and vector is not None:
            found[slot] = (run, convert(vector))
    return found
