"""Stage two of the feed, ranking: the candidates' features, the run's learned weights
(fitted by the training job, training/ranker.py) and the scores. Pure: retrieval
(service/retrieval.py) brings the candidates, shaping (domain/shaping.py) orders them."""
from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# just_watched: the similarity to the viewer's recent positive video whose behaviour
# neighbour list holds the candidate (0 when none does).
FEATURES = ("behaviour", "content", "popularity", "just_watched")


# Before the first training: content similarity first, popularity as a tie-breaker
# that still lifts widely watched videos (the blend that beat popularity in docs/quality.md
# weighs them about equally); no behaviour vectors exist yet.
DEFAULT_WEIGHTS: dict[str, float] = {"behaviour": 1.0, "content": 1.0, "popularity": 1.0,
                                     "just_watched": 1.0}


@dataclass(frozen=True)
class RankerWeights:
    """Linear ranking over per-candidate features, fitted by the training job.
    Features: behaviour = cosine in the index space (the normalised inner product),
    content = cosine to the viewer's preference vector, popularity = log-scaled views."""
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    source: str = "default"

    def score(self, features: np.ndarray) -> np.ndarray:
        """features: (n, len(FEATURES)) -> (n,) scores."""
        w = np.array([self.weights.get(name, 0.0) for name in FEATURES])
        return np.asarray(features, dtype=np.float64) @ w

    def to_json(self) -> str:
        return json.dumps({"weights": self.weights, "source": self.source}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> "RankerWeights":
        if not text:
            return cls()
        data = json.loads(text)
        return cls({k: float(v) for k, v in data["weights"].items()}, data.get("source", "?"))


@dataclass(frozen=True, eq=False, init=False)
class FeedCandidate:
    """A video proposed by one or more candidate sources, with its ranking features:
    cosines in the behaviour index and the content space (0 when unknown) and the
    training run's log-scaled popularity (0 when unknown); and what shaping needs: the
    unit content embedding, the creator and when it was added (epoch seconds)."""
    video_id: uuid.UUID
    behaviour: float
    content: float
    popularity: float
    sources: frozenset[str]
    embedding: np.ndarray | None = None
    uploader_id: uuid.UUID | None = None
    added_at: float | None = None
    just_watched: float = 0.0  # see FEATURES
    cited: uuid.UUID | None = None  # the recent video whose neighbour list holds it

    def __init__(self, video_id: uuid.UUID, behaviour: float, content: float,
                 popularity: float, sources: frozenset[str], embedding: np.ndarray | None = None,
                 uploader_id: uuid.UUID | None = None, added_at: float | None = None,
                 just_watched: float = 0.0, cited: uuid.UUID | None = None):
        # A frozen dataclass's own __init__ sets each field through object.__setattr__,
        # three times slower; a feed request builds hundreds of candidates.
        self.__dict__.update(video_id=video_id, behaviour=behaviour, content=content,
                             popularity=popularity, sources=sources, embedding=embedding,
                             uploader_id=uploader_id, added_at=added_at,
                             just_watched=just_watched, cited=cited)

    def features(self) -> tuple[float, float, float, float]:
        """The ranking features, in FEATURES order."""
        return (self.behaviour, self.content, self.popularity, self.just_watched)

    def evolve(self, **changes) -> FeedCandidate:
        """A copy with `changes` (field names: not checked here, a feed request copies
        hundreds). Not dataclasses.replace, which re-runs the frozen __init__ (one
        object.__setattr__ per field)."""
        copy = object.__new__(FeedCandidate)
        copy.__dict__.update(self.__dict__, **changes)
        return copy


@dataclass(frozen=True)
class Ranked:
    candidate: FeedCandidate
    score: float
    interest: int = -1  # index of the viewer's interest it belongs to, -1 for none

    def __init__(self, candidate: FeedCandidate, score: float, interest: int = -1):
        # As FeedCandidate's: a ranked list builds hundreds, and the frozen dataclass's
        # own __init__ sets each field through object.__setattr__.
        self.__dict__.update(candidate=candidate, score=score, interest=interest)


def rank(candidates: Sequence[FeedCandidate], ranker: RankerWeights,
         labels: np.ndarray) -> list[Ranked]:
    """Best score first; equal scores keep the candidates' order (retrieval sorts them by
    video id). The candidates are kept as they are: their embeddings are the feature
    cache's rows, shared by every list that holds them, not copies."""
    if not candidates:
        return []
    scores = ranker.score(np.array([c.features() for c in candidates]))
    order = np.argsort(-scores, kind="stable").tolist()
    score, label = scores.tolist(), np.asarray(labels).tolist()
    return [Ranked(candidates[n], score[n], label[n]) for n in order]


def embeddings_of(candidates: Sequence[FeedCandidate]) -> np.ndarray:
    """(n, d) unit content embeddings; zero rows where unknown."""
    width = next((c.embedding.shape[0] for c in candidates if c.embedding is not None), 0)
    vectors = [c.embedding for c in candidates]
    if width and all(v is not None and v.shape[0] == width for v in vectors):
        return np.array(vectors, dtype=np.float32)  # one copy in C, not a row at a time
    out = np.zeros((len(candidates), width), dtype=np.float32)
    for n, c in enumerate(candidates):
        if c.embedding is not None and c.embedding.shape[0] == width:
            out[n] = c.embedding
    return out
