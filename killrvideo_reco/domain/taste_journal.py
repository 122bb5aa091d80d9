"""The taste state's journal: the commits since the last snapshot of the state, each a list
of the interaction changes it applied, stored by reference (about 90 bytes a change).

A commit appends one journal entry instead of rewriting the head (the float64 sums) and
its channel cells; every `journal_commits`-th commit writes a new snapshot and clears the
journal. Replaying the entries in commit order with `apply_changes` gives the very state
the commits computed, bit for bit: the same function on the same inputs. What a change
does not store (the embedding, the title, the behaviour vector) comes from the video's
facts, which do not change under one embedding model and one behaviour run; the state
is rebuilt from history when either changes, and whenever a replay cannot be done (a
deleted video, a re-embedding in progress).
"""
from __future__ import annotations

import math
import struct
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

from .taste_profile import Interaction, ProfileParams, TasteState, apply_changes, channel_of

_MAGIC = b"KVTJ"
_ENTRY = struct.Struct("<4sH")          # magic, number of changes
_CHANGE = struct.Struct("<16s16sBB")    # video, uploader, flags, kind
_APPLIED = struct.Struct("<ddd")        # at, seconds watched, duration (NaN: unknown)
_HAS_UPLOADER, _HAS_OLD, _HAS_NEW = 1, 2, 4
_KINDS: tuple[Literal["watch", "hide"], ...] = ("watch", "hide")


class UnreplayableJournal(ValueError):
    """A journal that cannot be replayed exactly: rebuild the state from history."""


class Applied(NamedTuple):
    """What an interaction contributed besides its video's facts."""
    at: float
    seconds_watched: float
    duration_s: float | None


@dataclass(frozen=True)
class JournalChange:
    """One interaction replaced: `old` by `new` (None: absent), for one video and kind."""
    video_id: uuid.UUID
    uploader_id: uuid.UUID | None
    kind: Literal["watch", "hide"]
    old: Applied | None
    new: Applied | None


# The facts a replay needs of a video: its embedding, title and behaviour vector in the
# state's run; None when it cannot have them (deleted, or embedded with another model).
VideoInputs = tuple[np.ndarray, str, np.ndarray | None]


def change_of(old: Interaction | None, new: Interaction | None) -> JournalChange | None:
    """The journal's record of apply_change(state, old, new); None for a no-op."""
    either = new or old
    if either is None:
        return None
    return JournalChange(either.video_id, either.uploader_id, either.kind,
                         _applied(old), _applied(new))


def _applied(i: Interaction | None) -> Applied | None:
    return None if i is None else Applied(float(i.at), float(i.seconds_watched), i.duration_s)


def encode_entry(changes: Sequence[JournalChange]) -> bytes:
    parts = [_ENTRY.pack(_MAGIC, len(changes))]
    for c in changes:
        flags = ((_HAS_UPLOADER if c.uploader_id is not None else 0)
                 | (_HAS_OLD if c.old is not None else 0) | (_HAS_NEW if c.new is not None else 0))
        uploader = c.uploader_id.bytes if c.uploader_id is not None else bytes(16)
        parts.append(_CHANGE.pack(c.video_id.bytes, uploader, flags, _KINDS.index(c.kind)))
        for applied in (c.old, c.new):
            if applied is not None:
                duration = math.nan if applied.duration_s is None else applied.duration_s
                parts.append(_APPLIED.pack(applied.at, applied.seconds_watched, duration))
    return b"".join(parts)


def decode_entry(data: bytes) -> tuple[JournalChange, ...]:
    """ValueError for bytes that are not a journal entry."""
    if len(data) < _ENTRY.size:
        raise ValueError("truncated journal entry")
    magic, count = _ENTRY.unpack_from(data, 0)
    if magic != _MAGIC:
        raise ValueError("not a journal entry")
    pos, changes = _ENTRY.size, []
    for _ in range(count):
        if pos + _CHANGE.size > len(data):
            raise ValueError("truncated journal entry")
        video, uploader, flags, kind = _CHANGE.unpack_from(data, pos)
        pos += _CHANGE.size
        if kind >= len(_KINDS):
            raise ValueError(f"unknown interaction kind {kind} in a journal entry")
        applied: list[Applied | None] = []
        for bit in (_HAS_OLD, _HAS_NEW):
            if not flags & bit:
                applied.append(None)
                continue
            if pos + _APPLIED.size > len(data):
                raise ValueError("truncated journal entry")
            at, seconds, duration = _APPLIED.unpack_from(data, pos)
            pos += _APPLIED.size
            applied.append(Applied(at, seconds, None if math.isnan(duration) else duration))
        changes.append(JournalChange(
            uuid.UUID(bytes=video),
            uuid.UUID(bytes=uploader) if flags & _HAS_UPLOADER else None,
            _KINDS[kind], applied[0], applied[1]))
    if pos != len(data):
        raise ValueError("trailing bytes after a journal entry")
    return tuple(changes)


def journal_videos(entries: Sequence[Sequence[JournalChange]]) -> list[uuid.UUID]:
    return list(dict.fromkeys(c.video_id for entry in entries for c in entry))


def journal_channels(entries: Sequence[Sequence[JournalChange]]) -> list[str]:
    """The channels whose cells a replay changes (only watches have one)."""
    return list(dict.fromkeys(channel_of(c.video_id, c.uploader_id)
                              for entry in entries for c in entry if c.kind == "watch"))


def replay(state: TasteState, entries: Sequence[Sequence[JournalChange]],
           inputs: Callable[[uuid.UUID], VideoInputs | None],
           params: ProfileParams, recluster: bool = True) -> TasteState:
    """The snapshot `state` (holding the stored cells of the journal's channels) with the
    journal's entries applied in commit order; recluster=False leaves the interests to
    the caller's next apply_changes (recluster=True), as a commit does."""
    steps: list[tuple[Interaction | None, Interaction | None]] = []
    for entry in entries:
        for change in entry:
            found = inputs(change.video_id)
            if found is None:
                raise UnreplayableJournal(f"video {change.video_id} of the journal has no "
                                          "facts under the state's model")
            steps.append((_interaction(change, change.old, found),
                          _interaction(change, change.new, found)))
    try:
        return apply_changes(state, steps, params, None if recluster else False)
    except ValueError as error:
        raise UnreplayableJournal(str(error)) from error


def _interaction(change: JournalChange, applied: Applied | None,
                 found: VideoInputs) -> Interaction | None:
    if applied is None:
        return None
    embedding, title, behaviour = found
    return Interaction(video_id=change.video_id, embedding=embedding,
                       uploader_id=change.uploader_id, at=applied.at, kind=change.kind,
                       seconds_watched=applied.seconds_watched, duration_s=applied.duration_s,
                       title=title, behaviour=behaviour)
