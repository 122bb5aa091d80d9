"""The driver's uuid decoder, replaced by the shared table: equal values, one object per
id, the driver's error for a malformed value, and timeuuids left to the driver."""
from __future__ import annotations

import uuid

import pytest
from cassandra import cqltypes

from killrvideo_reco.store.uuid_codec import SHARED, install_shared_uuid_decoder

install_shared_uuid_decoder()


def test_a_uuid_column_decodes_to_the_shared_object():
    video = uuid.uuid4()

    first = cqltypes.UUIDType.deserialize(video.bytes, 5)
    second = cqltypes.UUIDType.deserialize(bytes(bytearray(video.bytes)), 5)

    assert first == video and first is second
    assert first is SHARED.uuid_of(video.bytes)
    assert isinstance(first, uuid.UUID) and hash(first) == hash(video)
    with pytest.raises(ValueError):
        cqltypes.UUIDType.deserialize(b"\x00" * 15, 5)


def test_the_compiled_decoder_calls_the_shared_table():
    deserializers = pytest.importorskip("cassandra.deserializers")
    video = uuid.uuid4()

    assert deserializers.UUID(bytes=video.bytes) is SHARED.uuid_of(video.bytes)


def test_timeuuids_keep_the_driver_decoder():
    page = uuid.uuid1()

    decoded = cqltypes.TimeUUIDType.deserialize(page.bytes, 5)

    assert decoded == page and decoded is not SHARED.uuid_of(page.bytes)
