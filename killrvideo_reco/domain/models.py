"""Plain data the domain and service layers pass around (no I/O)."""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

FeedSource = Literal["personalized", "trending", "latest"]


@dataclass(frozen=True)
class VideoSummary:
    video_id: uuid.UUID
    title: str
    thumbnail_url: str | None
    description: str | None
    tags: tuple[str, ...]
    added_date: datetime | None
    uploader_id: uuid.UUID | None


@dataclass(frozen=True)
class Candidate:
    """A video proposed for the feed, with the score it was ranked by."""
    summary: VideoSummary
    score: float


@dataclass(frozen=True)
class BasedOn:
    video_id: uuid.UUID
    title: str


@dataclass(frozen=True)
class FeedItem:
    summary: VideoSummary
    similarity: float | None = None
    based_on: tuple[BasedOn, ...] = ()


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedItem]
    total: int
    page: int
    page_size: int
    source: FeedSource


@dataclass(frozen=True)
class StoredPreferences:
    """The feed's view of a viewer's taste: one row of user_preferences."""
    preference_vector: Sequence[float] | None  # a float32 numpy array from the store
    model_id: str | None
    item_count: int
    recent_positive: bytes | None = None


@dataclass
class HistoryRow:
    """One (viewer, video) row of viewer_history."""
    video_id: uuid.UUID
    first_watched: datetime | None = None
    last_watched: datetime | None = None
    play_count: int = 0
    seconds_watched: float = 0.0
    duration_s: float | None = None
    hidden_at: datetime | None = None
    event_ids: frozenset[str] = field(default_factory=frozenset)
