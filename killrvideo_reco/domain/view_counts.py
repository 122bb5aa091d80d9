"""Exact view totals from viewing history, and the corrections that bring the all-time
view counters to them (the recount job, jobs/recount.py), and what one view adds to
them."""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date


def add_plays(totals: dict[uuid.UUID, int], plays: Iterable[tuple[uuid.UUID, int]]) -> int:
    """Fold (video, play count) history rows into per-video totals; returns the rows."""
    rows = 0
    for video_id, play_count in plays:
        totals[video_id] = totals.get(video_id, 0) + play_count
        rows += 1
    return rows


def corrections(exact: Mapping[uuid.UUID, int],
                current: Mapping[uuid.UUID, int]) -> dict[uuid.UUID, int]:
    """The delta (exact - current) that makes each counter exact, zero deltas left out.
    A video missing from `exact` has no views in history; one missing from `current` has
    no counter yet: both count as 0."""
    deltas = {}
    for video_id in exact.keys() | current.keys():
        delta = exact.get(video_id, 0) - current.get(video_id, 0)
        if delta:
            deltas[video_id] = delta
    return deltas


@dataclass(frozen=True)
class ViewCount:
    """What one recorded view adds to the counters: 1 to the video's total, and 1 to its
    count for `day` only when it is the viewer's first view of it that day (trending
    counts distinct viewers)."""
    video_id: uuid.UUID
    day: date
    new_viewer_today: bool


def merged_counts(counts: Iterable[ViewCount]
                  ) -> tuple[dict[uuid.UUID, int], dict[tuple[date, uuid.UUID], int]]:
    """Several views' increments as one per counter: (totals by video, days by (day, video))."""
    totals: dict[uuid.UUID, int] = {}
    days: dict[tuple[date, uuid.UUID], int] = {}
    for c in counts:
        totals[c.video_id] = totals.get(c.video_id, 0) + 1
        if c.new_viewer_today:
            days[(c.day, c.video_id)] = days.get((c.day, c.video_id), 0) + 1
    return totals, days
