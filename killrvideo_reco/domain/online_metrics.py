"""Daily online metrics of what was recommended, from the counters recorded with each
impression and each attributed view (service/impressions.py names them).

new_viewer_pages counts feed pages served to new viewers (domain/reach.is_new_viewer) per
source; their personalised share is per (day, variant), over the feed's sources, and is
repeated on each feed entry of that day and variant (None on related answers')."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from killrvideo_reco.domain.impressions import TOP_POSITIONS
from killrvideo_reco.domain.reach import FEED_SOURCES, new_viewer_personalised_share


@dataclass(frozen=True)
class DailyMetrics:
    day: date
    source: str
    variant: str
    pages: int
    impressions: int
    clicks: int  # attributed views
    watch_seconds: int

    ctr: float | None
    ctr_at_position: tuple[float | None, ...]  # positions 1..TOP_POSITIONS
    watch_seconds_per_impression: float | None
    mean_completion: float | None  # over attributed views whose video length is known
    completed_share: float | None  # of attributed views, those played >= 90%
    new_viewer_pages: int = 0  # feed pages of this source served to new viewers
    new_viewer_personalised_share: float | None = None  # of the (day, variant)'s


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def daily_metrics(rows: Iterable[tuple[date, str, str, str, int]]) -> list[DailyMetrics]:
    """One entry per (day, source, variant) from (day, source, variant, metric, value)."""
    grouped: dict[tuple[date, str, str], dict[str, int]] = {}
    for day, source, variant, metric, value in rows:
        grouped.setdefault((day, source, variant), {})[metric] = value
    new_viewers: dict[tuple[date, str], dict[str, int]] = {}
    for (day, source, variant), c in grouped.items():
        new_viewers.setdefault((day, variant), {})[source] = c.get("new_viewer_pages", 0)
    out = []
    for (day, source, variant), c in sorted(grouped.items()):
        impressions, clicks = c.get("impressions", 0), c.get("clicks", 0)
        with_duration = c.get("views_with_duration", 0)
        out.append(DailyMetrics(
            day, source, variant, c.get("pages", 0), impressions, clicks,
            c.get("watch_seconds", 0), _ratio(clicks, impressions),
            tuple(_ratio(c.get(f"clicks_p{p}", 0), c.get(f"impressions_p{p}", 0))
                  for p in range(1, TOP_POSITIONS + 1)),
            _ratio(c.get("watch_seconds", 0), impressions),
            _ratio(c.get("completion_permille", 0) / 1000, with_duration),
            _ratio(c.get("completed", 0), clicks), c.get("new_viewer_pages", 0),
            new_viewer_personalised_share(new_viewers[day, variant])
            if source in FEED_SOURCES else None))
    return out
