"""Plain data the domain and service layers pass around (no I/O)."""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np

from killrvideo_reco.domain.behaviour import SLOTS
from killrvideo_reco.domain.interests import Interest, InterestRef
from killrvideo_reco.domain.ranking import RankerWeights
from killrvideo_reco.domain.taste_head import StoredHead
from killrvideo_reco.domain.taste_journal import JournalChange
from killrvideo_reco.domain.taste_profile import TasteState
from killrvideo_reco.domain.viewer_nearest import ViewerNearest

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
class CandidateSizes:
    """How many candidates each source of the feed brings: one type for serving
    (service/retrieval.py) and for the ranking-weight fit at training
    (training/ranker.py), so the weights are fitted on the candidates the feed ranks."""
    behaviour: int = 100
    content: int = 50
    popular: int = 50
    just_watched_videos: int = 3   # recent positives whose neighbour lists are read
    just_watched_rows: int = 20    # unseen rows taken from each list
    neighbours: int = 100          # a list's length (FEED_NEIGHBOURS)


@dataclass(frozen=True)
class BehaviourRun:
    """A finished training run, as serving needs it."""
    run_id: str
    slot: str
    dimension: int
    max_norm: float
    ranker: RankerWeights = field(default_factory=RankerWeights)
    content_map: bytes | None = None
    popular: tuple[uuid.UUID, ...] = ()
    query_map: bytes | None = None  # ALS runs: see domain/behaviour.viewer_query

    @property
    def trained(self) -> bool:
        return bool(self.run_id)


# What the feed ranks with before the first training run: the same pipeline over the
# content space alone. No video carries this run's behaviour vector or popularity (its
# id is empty), so those features are 0 and the default weights rank by content.
UNTRAINED = BehaviourRun(run_id="", slot=SLOTS[0], dimension=0, max_norm=1.0)


@dataclass(frozen=True)
class PopularPool:
    """The popular candidates of one run, with what ranking them needs, cached per process:
    unit index vectors in the run's behaviour space, unit content vectors, popularity."""
    video_ids: tuple[uuid.UUID, ...]
    behaviour: np.ndarray   # (n, dimension + 1); zero rows where the run has no vector
    content: np.ndarray     # (n, content dimension), unit rows
    popularity: np.ndarray  # (n,)
    uploader_ids: tuple[uuid.UUID | None, ...] = ()
    added_at: tuple[float | None, ...] = ()


@dataclass(frozen=True)
class BasedOn:
    video_id: uuid.UUID
    title: str


@dataclass(frozen=True)
class RankingFeatures:
    """Why a personalised item ranks where it does: its features and its score."""
    behaviour: float
    content: float
    popularity: float
    just_watched: float
    sources: tuple[str, ...]
    score: float


@dataclass(frozen=True)
class FeedItem:
    summary: VideoSummary
    similarity: float | None = None
    based_on: tuple[BasedOn, ...] = ()
    ranking: RankingFeatures | None = None  # personalised items only (the operator console)


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedItem]
    total: int
    page: int
    page_size: int
    source: FeedSource
    # The viewer's positive videos as the feed read them (StoredProfile.item_count, 0
    # without a profile); None when it read no profile (the popularity variant).
    positives: int | None = None


@dataclass(frozen=True)
class RecentVideo:
    """One of a viewer's recent positive videos, kept with the profile for 'based on'."""
    video_id: uuid.UUID
    title: str
    unit_vector: np.ndarray  # float32, unit norm


@dataclass(frozen=True)
class ProfileReferences:
    """The read model's recent likes and interests as stored: by video id, no vectors."""
    recent: tuple[uuid.UUID, ...] = ()  # newest first
    interests: tuple[InterestRef, ...] = ()  # most important first

    def videos(self) -> list[uuid.UUID]:
        """The videos whose vectors resolving these needs, each once."""
        return list(dict.fromkeys([*self.recent, *(i.medoid_id for i in self.interests)]))


@dataclass(frozen=True)
class ProfileStamp:
    """What identifies a viewer's read model without its vectors: enough to find the
    ranked list a version produced (the feed's next pages)."""
    version: int | None
    item_count: int


@dataclass(frozen=True)
class StoredProfile:
    """The feed's view of a viewer's taste profile (the read model, user_preferences)."""
    preference_vector: Sequence[float] | None  # a float32 numpy array from the store
    model_id: str | None
    item_count: int
    recent_positive: tuple[RecentVideo, ...] = ()
    # slot -> (run id, the viewer's raw behaviour vector in that run)
    behaviour: dict[str, tuple[str, np.ndarray]] = field(default_factory=dict)
    interests: tuple[Interest, ...] = ()  # most important first
    version: int | None = None  # the taste version it was written at (its write time)
    # What the row stores; recent_positive and interests are these resolved
    # (domain/profile_refs.py), which the store does only for rows of older releases.
    references: ProfileReferences = ProfileReferences()
    nearest: ViewerNearest | None = None  # the behaviour source's kept ANN answer

    def resolved(self) -> bool:
        """Whether the recent likes and the interests hold vectors (each part may come
        resolved from an older release's row)."""
        return ((bool(self.recent_positive) or not self.references.recent)
                and (bool(self.interests) or not self.references.interests))

    def behaviour_in(self, run: "BehaviourRun | None") -> np.ndarray | None:
        """The behaviour vector of exactly this run, never another run's."""
        if run is None or run.slot not in self.behaviour:
            return None
        run_id, vector = self.behaviour[run.slot]
        return vector if run_id == run.run_id and vector is not None else None


@dataclass(frozen=True)
class NewVideo:
    """A video as it is added to the catalogue."""
    video_id: uuid.UUID
    uploader_id: uuid.UUID | None
    title: str
    description: str
    tags: tuple[str, ...]
    thumbnail_url: str | None
    added_date: datetime
    category: str | None
    duration_s: int | None
    content_features: np.ndarray
    embedding_model: str


@dataclass(frozen=True)
class VideoDetails:
    """One video as the API shows it: the summary plus catalogue facts."""
    summary: VideoSummary
    category: str | None
    duration_s: int | None
    embedding_model: str | None


@dataclass(frozen=True)
class VideoFacts:
    """What the taste profile needs to know of a watched video."""
    video_id: uuid.UUID
    title: str
    uploader_id: uuid.UUID | None
    duration_s: float | None
    content_features: np.ndarray | None
    embedding_model: str | None
    # slot -> (run id, the video's unit vector in that slot's index)
    behaviour: dict[str, tuple[str, np.ndarray]] = field(default_factory=dict)


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


@dataclass(frozen=True)
class TasteRecord:
    """A viewer's stored taste state: its last snapshot (the head, with references to
    resolve), the journal of the commits since (oldest first; domain/taste_journal.py),
    and the version a conditional write must match."""
    version: int | None = None
    state: StoredHead | None = None
    model_id: str | None = None
    journal: tuple[tuple[JournalChange, ...], ...] = ()


@dataclass(frozen=True)
class HistoryWrite:
    """A history row as it is after a change, and the playback event ids it adds."""
    row: HistoryRow
    event_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TasteChange:
    """One atomic change to a viewer: the history rows that caused it, and either the
    journal entry of its interaction changes or, when `journal` is None, a snapshot of the
    new taste state (its head and the channel cells it holds) that clears the journal.
    Applied only if `expected_version` still holds. `replace_channels`: the state holds
    every channel (a rebuild), so the stored cells are replaced, not updated."""
    user_id: uuid.UUID
    expected_version: int | None
    new_version: int
    state: TasteState
    model_id: str | None
    rows: tuple[HistoryWrite, ...] = ()
    replace_channels: bool = False
    journal: tuple[JournalChange, ...] | None = None


@dataclass(frozen=True, eq=False)
class NeighbourList:
    """A video's nearest neighbours in one space, best first, as computed in `version`
    (the embedding model for the content space) at `computed_at` (epoch seconds)."""
    version: str
    computed_at: float
    video_ids: tuple[uuid.UUID, ...]
    similarities: np.ndarray  # (n,) float32 cosines


@dataclass(frozen=True)
class RunRecord:
    """One training run as operators list it: its state and its hold-out figures."""
    run_id: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    dimension: int | None
    quality: dict
