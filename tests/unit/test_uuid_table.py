"""Neighbour lists decode their ids through one table: equal values, shared objects."""
from __future__ import annotations

import uuid

import pytest

from killrvideo_reco.domain.uuids import UuidTable, uuids_of


def _blob(ids) -> bytes:
    return b"".join(v.bytes for v in ids)


def test_ids_decode_as_uuids_and_a_video_in_two_lists_is_one_object():
    table = UuidTable(size=100)
    shared, a, b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    first = table.uuids_of(_blob([a, shared]))
    second = table.uuids_of(_blob([shared, b]))

    assert first == (a, shared) == uuids_of(_blob([a, shared]))
    assert second == (shared, b)
    assert first[1] is second[0]
    assert hash(second[0]) == hash(shared) and second[0].version == shared.version
    assert table.held == 3


def test_past_its_size_the_table_starts_afresh_and_still_decodes_exactly():
    table = UuidTable(size=4)
    ids = [uuid.uuid4() for _ in range(12)]
    for n in range(0, 12, 3):
        assert table.uuids_of(_blob(ids[n:n + 3])) == tuple(ids[n:n + 3])
        assert table.held <= 4 + 3
    with pytest.raises(ValueError):
        table.uuids_of(b"\x00" * 15)


def test_one_id_by_its_bytes_is_the_object_the_lists_share():
    table = UuidTable(size=100)
    video = uuid.uuid4()

    one = table.uuid_of(video.bytes)

    assert one == video and one is table.uuid_of(bytes(video.bytes))
    assert one is table.uuids_of(_blob([uuid.uuid4(), video]))[1]
    with pytest.raises(ValueError):
        table.uuid_of(b"\x01" * 17)
