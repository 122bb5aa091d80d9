"""Reach of what was recommended: which videos were shown (catalogue coverage per day),
to how many viewers each (a video's page in the console), and whether new viewers got a
personalised feed. Rows come from video_impressions_by_day (cql/0012)."""
from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

# The feed sources that are not personalised: a new viewer served one of them got the
# cold-start fallback (related answers are not feed pages and are not counted).
FEED_SOURCES = ("personalized", "trending", "latest")


def viewer_bucket(user_id: uuid.UUID, buckets: int) -> int:
    """The partition of a day a viewer's rows go to: stable across processes and runs."""
    return zlib.crc32(user_id.bytes) % buckets


def is_new_viewer(positives: int | None, max_positives: int) -> bool | None:
    """A viewer is new while their taste profile holds fewer than `max_positives` positive
    videos (no profile: 0). None when the feed did not read the profile (the popularity
    variant), so the page is not classified."""
    return None if positives is None else positives < max_positives


@dataclass(frozen=True)
class DailyCoverage:
    day: date
    distinct_videos_shown: int
    catalogue_size: int | None  # None: unknown (no catalogue to count)
    coverage: float | None  # distinct_videos_shown / catalogue_size


def coverage(day: date, shown: Iterable[uuid.UUID], catalogue_size: int | None) -> DailyCoverage:
    """A day's catalogue coverage from the video ids of its buckets (a video shown to
    viewers of several buckets comes once per bucket)."""
    distinct = len(set(shown))
    share = distinct / catalogue_size if catalogue_size else None
    return DailyCoverage(day, distinct, catalogue_size, share)


@dataclass(frozen=True)
class VideoDay:
    """How often a video was shown one day, and to how many distinct viewers."""
    day: date
    impressions: int
    viewers: int


def video_days(days: Iterable[date],
               rows: Iterable[tuple[date, int, int]]) -> list[VideoDay]:
    """Every asked day, newest first, from (day, impressions, viewers) partial sums (one
    per bucket); days with nothing shown are zeros."""
    totals = {day: [0, 0] for day in days}
    for day, impressions, viewers in rows:
        if day in totals:
            totals[day][0] += impressions
            totals[day][1] += viewers
    return [VideoDay(day, shown, viewers)
            for day, (shown, viewers) in sorted(totals.items(), reverse=True)]


def new_viewer_personalised_share(pages_by_source: dict[str, int]) -> float | None:
    """Of the feed pages served to new viewers, the share that was personalised (not the
    cold-start fallback); None when no new viewer got a feed page."""
    feed = sum(pages_by_source.get(s, 0) for s in FEED_SOURCES)
    return pages_by_source.get("personalized", 0) / feed if feed else None
