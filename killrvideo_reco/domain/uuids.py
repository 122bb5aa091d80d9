"""16-byte UUIDs stored back to back (neighbour lists, popular pools), decoded without
UUID.__init__'s argument handling: about twice as fast, and a feed request decodes about
a thousand. The objects are ordinary uuid.UUID values, equal and hashed alike."""
from __future__ import annotations

import uuid

_new = object.__new__
_set = object.__setattr__  # UUID is immutable: its own __init__ sets fields this way
_UNKNOWN = uuid.SafeUUID.unknown


def _check(blob: bytes) -> None:
    if len(blob) % 16:
        raise ValueError(f"{len(blob)} bytes are not a list of 16-byte UUIDs")


def uuids_of(blob: bytes) -> tuple[uuid.UUID, ...]:
    _check(blob)
    from_bytes = int.from_bytes
    return tuple([_uuid(from_bytes(blob[start:start + 16]))
                  for start in range(0, len(blob), 16)])


def _uuid(value: int) -> uuid.UUID:
    made = _new(uuid.UUID)
    _set(made, "int", value)
    _set(made, "is_safe", _UNKNOWN)
    return made


class UuidTable:
    """The UUID objects already decoded, by their 16 bytes, so that a video listed in
    thousands of cached neighbour lists is one object in all of them: a list of 100 then
    holds 100 references (about 0.8 KB) instead of 100 UUIDs (about 10 KB). Past `size`
    ids the table starts afresh: lists decoded before keep their objects, only the
    sharing is lost."""

    def __init__(self, size: int):
        self.size = size
        self._table: dict[bytes, uuid.UUID] = {}

    def uuids_of(self, blob: bytes) -> tuple[uuid.UUID, ...]:
        _check(blob)
        one = self.uuid_of
        return tuple([one(blob[start:start + 16]) for start in range(0, len(blob), 16)])

    def uuid_of(self, key: bytes) -> uuid.UUID:
        """One id by its 16 bytes: the driver's decoder of uuid columns
        (store/uuid_codec.py)."""
        value = self._table.get(key)
        if value is None:
            if len(key) != 16:
                raise ValueError(f"{len(key)} bytes are not a 16-byte UUID")
            table = self._table
            if len(table) > self.size:
                table.clear()
            value = table[key] = _uuid(int.from_bytes(key))
        return value

    @property
    def held(self) -> int:  # not __len__: an empty table must stay truthy
        return len(self._table)
