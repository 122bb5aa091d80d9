"""The taste journal (domain/taste_journal.py): a state read back from its last snapshot and
the journal of commits since is the state those commits computed, bit for bit."""
from __future__ import annotations

import uuid

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from killrvideo_reco.domain.taste_head import StoredHead, applied_unit
from killrvideo_reco.domain.taste_journal import (
    Applied,
    JournalChange,
    UnreplayableJournal,
    change_of,
    decode_entry,
    encode_entry,
    journal_channels,
    replay,
)
from killrvideo_reco.domain.taste_profile import (
    ProfileParams,
    apply_change,
    apply_changes,
    channel_cells,
    channel_of,
    decode_channel,
    empty_state,
)
from tests.unit.test_taste_profile_properties import (
    DAY,
    SETTINGS,
    T0,
    D,
    action_st,
    params_st,
    videos_st,
)


def test_an_entry_round_trips():
    video, uploader = uuid.uuid4(), uuid.uuid4()
    changes = (JournalChange(video, uploader, "watch", None, Applied(T0, 12.5, None)),
               JournalChange(video, None, "hide", Applied(T0 + 1, 0.0, 600.0), None),
               JournalChange(uuid.uuid4(), uploader, "watch", Applied(T0, 1.0, 30.0),
                             Applied(T0 + 5, 2.0, 30.0)))
    data = encode_entry(changes)
    assert decode_entry(data) == changes
    assert len(data) < 100 * len(changes), "by reference: no vector in an entry"


@pytest.mark.parametrize("damage", [lambda d: d[:-1], lambda d: d + b"\0",
                                    lambda d: b"XXXX" + d[4:], lambda d: d[:3]])
def test_a_damaged_entry_is_refused(damage):
    data = encode_entry((JournalChange(uuid.uuid4(), None, "watch", None,
                                       Applied(T0, 1.0, None)),))
    with pytest.raises(ValueError):
        decode_entry(damage(data))


def test_a_video_the_replay_cannot_resolve_asks_for_a_rebuild():
    state = empty_state(D)
    entry = (JournalChange(uuid.uuid4(), None, "watch", None, Applied(T0, 300.0, 600.0)),)
    with pytest.raises(UnreplayableJournal):
        replay(state, [entry], lambda video_id: None, ProfileParams())


@SETTINGS
@given(videos_st(3, 8, allow_zero=True), params_st,
       st.lists(action_st, min_size=5, max_size=40), st.integers(1, 6))
def test_snapshot_and_journal_replay_to_the_committed_state(videos, p, actions, every):
    """Each step as the service takes it: read the snapshot (head and the cells of the
    change's and the journal's channels), replay the journal (clustering the interests
    once, after the change), apply the change, then
    append an entry or, every `every` commits, write a snapshot. The state read back
    equals the one computed in memory all along, bit for bit."""
    by_id = {v.video_id: v for v in videos}
    catalogue = {v.video_id: (f"t{v.video_id.int}", applied_unit(v.embedding))
                 for v in videos if applied_unit(v.embedding) is not None}
    memory = empty_state(D, p)  # never stored: every channel it ever touched, in float64
    head, cells, journal = memory.to_bytes(), {}, []
    current: dict[tuple[uuid.UUID, str], object] = {}

    def inputs(video_id):
        v = by_id[video_id]
        return v.embedding, f"t{video_id.int}", None

    for commit, (idx, action, seconds, day, _) in enumerate(actions, start=1):
        v = videos[idx % len(videos)]
        t = T0 + day * DAY
        kind = "hide" if action in ("hide", "unhide") else "watch"
        old = current.get((v.video_id, kind))
        if action == "watch":
            new = v.watch((old.seconds_watched if old else 0.0) + seconds,
                          max(old.at, t) if old else t)
        elif action == "hide":
            new = v.hide(t)
        elif old is None:
            continue
        else:
            new = None
        # read: the snapshot, the cells a replay and this change need, the journal
        wanted = [channel_of(v.video_id, v.uploader_id), *journal_channels(journal)]
        stored = StoredHead.from_bytes(head)
        read = stored.resolve(catalogue, p).with_channels(
            {k: decode_channel(cells[k], D) for k in wanted if k in cells})
        snapshot, read = read, replay(read, journal, inputs, p)
        assert read.to_bytes() == memory.to_bytes()
        assert all(c.count == memory.channels[k].count and c.as_of == memory.channels[k].as_of
                   and np.array_equal(c.vector_sum, memory.channels[k].vector_sum)
                   for k, c in read.channels.items() if c.count > 0)
        # change, in memory and on the read state alike
        memory = apply_change(memory, old, new, p)
        read = apply_change(read, old, new, p)
        assert read.to_bytes() == memory.to_bytes()
        # As a commit does it: the replay leaves the interests to the change's clustering.
        deferred = apply_changes(replay(snapshot, journal, inputs, p, recluster=False),
                                 [(old, new)], p, recluster=True)
        assert deferred.to_bytes() == memory.to_bytes()
        assert all(a.same_as(b) for a, b in zip(deferred.interests, memory.interests,
                                                 strict=True))
        if new is None:
            del current[(v.video_id, kind)]
        else:
            current[(v.video_id, kind)] = new
        # commit
        if commit % every == 0:
            head, journal = read.to_bytes(), []
            for k, cell in channel_cells(read).items():
                if cell is None:
                    cells.pop(k, None)
                else:
                    cells[k] = cell
        else:
            step = change_of(old, new)
            journal.append(decode_entry(encode_entry([step] if step else [])))
    final = replay(StoredHead.from_bytes(head).resolve(catalogue, p).with_channels(
        {k: decode_channel(c, D) for k, c in cells.items()}), journal, inputs, p)
    assert final.to_bytes() == memory.to_bytes()
    assert np.array_equal(final.preference_vector(p), memory.preference_vector(p)) or (
        final.preference_vector(p) is None and memory.preference_vector(p) is None)
