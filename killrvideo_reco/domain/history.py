"""From stored history rows to taste-profile interactions, and how a view changes a row.
Pure: the service layer supplies rows and video facts."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

import numpy as np

from killrvideo_reco.domain.models import HistoryRow
from killrvideo_reco.domain.taste_profile import Interaction


class InvalidViewTime(ValueError):
    """A view's time that cannot be a real view's: refused, never stored."""


@dataclass(frozen=True)
class ViewTimeRules:
    clock_skew_s: float = 300.0
    earliest: datetime = datetime(1980, 1, 1, tzinfo=timezone.utc)

    def check(self, at: datetime, now: datetime) -> None:
        check_view_time(at, now, self.clock_skew_s, self.earliest)

    def not_after(self, now: datetime) -> float:
        """The latest time a stored view may count with (legacy rows beyond it are clamped)."""
        return now.timestamp() + self.clock_skew_s


def check_view_time(at: datetime, now: datetime, clock_skew_s: float,
                    earliest: datetime) -> None:
    """A time in the future would outweigh every present view (decay is relative to the
    newest one), so beyond the clock-skew allowance it is refused; so is a time before
    `earliest`, a client's zero value. A time before the video's upload is accepted: an
    import of a platform's older history is legitimate, and an old time only lowers that
    view's own weight."""
    if at > now + timedelta(seconds=clock_skew_s):
        raise InvalidViewTime(
            f"watchedAt {at.isoformat()} is in the future: the server's clock reads "
            f"{now.isoformat()}, and at most {clock_skew_s:g} s of clock skew is allowed. "
            "Send the time the view happened, or leave watchedAt out for now.")
    if at < earliest:
        raise InvalidViewTime(
            f"watchedAt {at.isoformat()} is before {earliest.isoformat()}, the earliest time "
            "accepted (VIEW_EARLIEST_WATCHED_AT): it looks like an unset time.")


def _seen_at(moment: datetime, not_after: float | None) -> float:
    # Rows stored before times were checked may lie in the future: count them as now.
    at = moment.timestamp()
    return at if not_after is None else min(at, not_after)


def watch_interaction(row: HistoryRow | None, embedding: np.ndarray, uploader_id: uuid.UUID | None,
                      title: str, behaviour: np.ndarray | None = None,
                      not_after: float | None = None) -> Interaction | None:
    if row is None or row.play_count <= 0 or row.last_watched is None:
        return None
    return Interaction(video_id=row.video_id, embedding=embedding, uploader_id=uploader_id,
                       at=_seen_at(row.last_watched, not_after), kind="watch",
                       seconds_watched=row.seconds_watched, duration_s=row.duration_s,
                       title=title, behaviour=behaviour)


def hide_interaction(row: HistoryRow | None, embedding: np.ndarray, uploader_id: uuid.UUID | None,
                     title: str, behaviour: np.ndarray | None = None,
                     not_after: float | None = None) -> Interaction | None:
    if row is None or row.hidden_at is None:
        return None
    return Interaction(video_id=row.video_id, embedding=embedding, uploader_id=uploader_id,
                       at=_seen_at(row.hidden_at, not_after), kind="hide", title=title,
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


def first_view_on_its_day(row: HistoryRow | None, at: datetime) -> bool:
    """Whether this view is the viewer's first of the video on `at`'s (UTC) day, as far as
    the row tells (its first and last views): trending counts distinct viewers a day."""
    if row is None or row.play_count <= 0:
        return True
    days = {moment.date() for moment in (row.first_watched, row.last_watched) if moment}
    return at.date() not in days


def next_version(previous: int | None, now_us: int) -> int:
    """Versions are microsecond timestamps that strictly increase."""
    return max((previous or 0) + 1, now_us)
