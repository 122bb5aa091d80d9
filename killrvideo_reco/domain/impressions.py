"""Impressions (what a viewer was shown) and the attribution of a view to one of them.

A served page is one recommendation: its id is a time UUID (so it carries when it was
served), each of its items has a 1-based position in the whole list (page 2 of 10 starts
at 11). A view of a video shown within the attribution window is a click on the newest
impression that showed it, or on the one the client names when that one showed it.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import NamedTuple

# Positions with their own CTR series; the rest are pooled as "11+".
TOP_POSITIONS = 10
# A view that plays at least this share of the video counts as completed.
COMPLETED_SHARE = 0.9
_UUID_EPOCH = datetime(1582, 10, 15, tzinfo=timezone.utc)


@dataclass(frozen=True)
class ShownItem:
    video_id: uuid.UUID
    position: int


@dataclass(frozen=True)
class Impression:
    """One served page (a feed page or a related-videos answer) for one viewer."""
    user_id: uuid.UUID
    recommendation_id: uuid.UUID  # a time UUID
    items: tuple[ShownItem, ...]
    source: str  # personalized | trending | latest | related
    variant: str
    experiment_id: uuid.UUID | None = None

    @property
    def served_at(self) -> datetime:
        return served_at(self.recommendation_id)


@dataclass(frozen=True)
class ImpressionRow:
    """One item of a stored impression, as a view reads it back."""
    recommendation_id: uuid.UUID
    video_id: uuid.UUID
    position: int
    source: str
    variant: str
    experiment_id: uuid.UUID | None = None

    @property
    def served_at(self) -> datetime:
        return served_at(self.recommendation_id)


class ShownRow(NamedTuple):
    """One item of a stored page as the repeat limit reads it: the page and the video (a
    tuple: a page 1 reads the items of up to RepeatRules.pages pages)."""
    recommendation_id: uuid.UUID
    video_id: uuid.UUID

    @property
    def served_at(self) -> datetime:
        return served_at(self.recommendation_id)


Shown = ShownRow | ImpressionRow


@dataclass(frozen=True)
class ViewWatch:
    seconds: float
    duration_s: float | None

    @property
    def completion(self) -> float | None:
        """Share of the video played, capped at 1; None when its length is unknown."""
        if not self.duration_s:
            return None
        return min(1.0, self.seconds / self.duration_s)


def served_at(recommendation_id: uuid.UUID) -> datetime:
    """When a time-UUID recommendation id was made (version 1 UUIDs carry the time)."""
    return _UUID_EPOCH + timedelta(microseconds=recommendation_id.time // 10)


def day_of(moment: datetime) -> date:
    return moment.astimezone(timezone.utc).date()


def days_between(start: datetime, end: datetime) -> list[date]:
    """The UTC days from start's to end's, both included (the partitions to read)."""
    first, last = day_of(start), day_of(end)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def position_label(position: int) -> str:
    """Bounded label values for metrics: "1".."10", then "11+"."""
    return str(position) if position <= TOP_POSITIONS else f"{TOP_POSITIONS + 1}+"


def attributed(rows: list[ImpressionRow], video_id: uuid.UUID,
               recommendation_id: uuid.UUID | None) -> ImpressionRow | None:
    """The impression a view of `video_id` is a click on: the named one when it showed
    the video, else the newest that did; None when none did."""
    showing = [r for r in rows if r.video_id == video_id]
    if recommendation_id is not None:
        for row in showing:
            if row.recommendation_id == recommendation_id:
                return row
    return max(showing, key=lambda r: r.recommendation_id.time, default=None)


def session_start(rows: Sequence[Shown], now: datetime, gap: timedelta) -> datetime:
    """When the viewer's current browsing session began: the earliest of the pages served
    in a chain with no pause longer than `gap` that reaches up to now (now if none)."""
    return _session_start(_page_times(rows).values(), now, gap)


def _page_times(rows: Sequence[Shown]) -> dict[uuid.UUID, datetime]:
    """When each page was served, computed once a page rather than once an item."""
    return {page: served_at(page) for page in {r.recommendation_id for r in rows}}


def _session_start(times: Iterable[datetime], now: datetime, gap: timedelta) -> datetime:
    start = now
    for at in sorted(set(times), reverse=True):
        if at > now:
            continue
        if start - at > gap:
            break
        start = at
    return start


def over_shown(rows: Sequence[Shown], limit: int, now: datetime,
               session_gap: timedelta) -> set[uuid.UUID]:
    """Videos shown on at least `limit` pages before the current session. The session's own
    pages do not count, so its page 2 continues its page 1 whatever was recorded between."""
    times = _page_times(rows)
    start = _session_start(times.values(), now, session_gap)
    pages: dict[uuid.UUID, set[uuid.UUID]] = {}
    for r in rows:
        if times[r.recommendation_id] < start:
            pages.setdefault(r.video_id, set()).add(r.recommendation_id)
    return {video for video, seen in pages.items() if len(seen) >= limit}
