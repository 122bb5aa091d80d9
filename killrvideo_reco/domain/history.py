"""From stored history rows to taste-profile interactions, and how a view changes a row.
Pure: the service layer supplies rows and video facts."""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

import numpy as np

from killrvideo_reco.domain.models import HistoryRow
from killrvideo_reco.domain.taste_profile import Interaction


def watch_interaction(row: HistoryRow | None, embedding: np.ndarray, uploader_id: uuid.UUID | None,
                      title: str, behaviour: np.ndarray | None = None) -> Interaction | None:
    if row is None or row.play_count <= 0 or row.last_watched is None:
        return None
    return Interaction(video_id=row.video_id, embedding=embedding, uploader_id=uploader_id,
                       at=row.last_watched.timestamp(), kind="watch",
                       seconds_watched=row.seconds_watched, duration_s=row.duration_s,
                       title=title, behaviour=behaviour)


def hide_interaction(row: HistoryRow | None, embedding: np.ndarray, uploader_id: uuid.UUID | None,
                     title: str, behaviour: np.ndarray | None = None) -> Interaction | None:
    if row is None or row.hidden_at is None:
        return None
    return Interaction(video_id=row.video_id, embedding=embedding, uploader_id=uploader_id,
                       at=row.hidden_at.timestamp(), kind="hide", title=title,
                       behaviour=behaviour)


def after_view(row: HistoryRow | None, video_id: uuid.UUID, at: datetime, seconds: float,
               duration_s: float | None, video_duration_s: float | None) -> HistoryRow:
    """The history row once one more playback event is counted."""
    base = row or HistoryRow(video_id=video_id)
    return replace(
        base,
        first_watched=min(base.first_watched, at) if base.first_watched else at,
        last_watched=max(base.last_watched, at) if base.last_watched else at,
        play_count=base.play_count + 1,
        seconds_watched=base.seconds_watched + seconds,
        duration_s=duration_s or base.duration_s or video_duration_s,
    )


def next_version(previous: int | None, now_us: int) -> int:
    """Versions are microsecond timestamps that strictly increase."""
    return max((previous or 0) + 1, now_us)
