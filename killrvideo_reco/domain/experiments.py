"""A/B experiments on the feed: variants, sticky assignment, and the read of results.

Assignment needs no per-viewer write: a viewer's bucket is a hash of (experiment salt,
viewer id) in [0, 10000), and the variants own consecutive ranges of buckets in
proportion to their percent. Same salt, same viewer, same variant, on every replica.
The first variant is the control.
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

BUCKETS = 10_000

# The feed settings a variant may override (API name -> settings field). `popularity`
# serves the popular list (trending, then latest) instead of the personalised feed;
# `trainingRun` serves another complete training run than the live one.
OVERRIDABLE: dict[str, str] = {
    "feedDiversityLambda": "feed_diversity_lambda",
    "feedCreatorCap": "feed_creator_cap",
    "feedFreshnessDays": "feed_freshness_days",
    "feedFreshnessBoost": "feed_freshness_boost",
    "feedShapingWindow": "feed_shaping_window",
    "feedInterestSimilarity": "feed_interest_similarity",
    "feedBehaviourCandidates": "feed_behaviour_candidates",
    "feedContentCandidates": "feed_content_candidates",
    "feedPopularCandidates": "feed_popular_candidates",
    "feedSimilarityFloor": "feed_similarity_floor",
    "feedImpressionLimit": "feed_impression_limit",
}
POPULARITY = "popularity"
TRAINING_RUN = "trainingRun"
SPECIAL = (POPULARITY, TRAINING_RUN)


@dataclass(frozen=True)
class Variant:
    name: str
    percent: int
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def popularity(self) -> bool:
        return bool(self.overrides.get(POPULARITY))

    @property
    def training_run(self) -> str | None:
        return self.overrides.get(TRAINING_RUN)

    def settings_update(self) -> dict[str, Any]:
        """The overrides as Settings fields (popularity and trainingRun are not settings)."""
        return {OVERRIDABLE[k]: v for k, v in self.overrides.items() if k in OVERRIDABLE}


@dataclass(frozen=True)
class Experiment:
    experiment_id: uuid.UUID
    name: str
    salt: str
    variants: tuple[Variant, ...]
    status: str  # draft | running | stopped
    created_at: datetime
    started_at: datetime | None = None
    stopped_at: datetime | None = None

    @property
    def control(self) -> Variant:
        return self.variants[0]

    def overridden(self) -> set[str]:
        """Every setting some variant overrides: two running experiments may not share one."""
        return {k for v in self.variants for k in v.overrides}

    def assign(self, user_id: uuid.UUID) -> Variant:
        return self.variants[variant_index(self.salt, user_id,
                                           [v.percent for v in self.variants])]


def bucket(salt: str, user_id: uuid.UUID) -> int:
    digest = hashlib.sha256(salt.encode() + user_id.bytes).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def variant_index(salt: str, user_id: uuid.UUID, percents: list[int]) -> int:
    b, upper = bucket(salt, user_id), 0
    for n, percent in enumerate(percents):
        upper += percent * BUCKETS // 100
        if b < upper:
            return n
    return len(percents) - 1


class InvalidExperiment(ValueError):
    """Names the field at fault (JSON-pointer-like, e.g. variants.1.overrides.x)."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field, self.message = field_name, message


def check_shape(variants: list[Variant]) -> None:
    """Raise InvalidExperiment for what is wrong whatever the deployment."""
    if len(variants) < 2:
        raise InvalidExperiment("variants", "at least two variants (the first is the control)")
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise InvalidExperiment("variants", "variant names must be distinct")
    total = sum(v.percent for v in variants)
    if total != 100:
        raise InvalidExperiment("variants", f"percents sum to {total}, not 100")
    for n, v in enumerate(variants):
        for key in v.overrides:
            if key not in OVERRIDABLE and key not in SPECIAL:
                raise InvalidExperiment(
                    f"variants.{n}.overrides.{key}",
                    f"not an overridable setting; one of {sorted([*OVERRIDABLE, *SPECIAL])}")
        if POPULARITY in v.overrides and not isinstance(v.overrides[POPULARITY], bool):
            raise InvalidExperiment(f"variants.{n}.overrides.{POPULARITY}", "true or false")
        run = v.overrides.get(TRAINING_RUN)
        if TRAINING_RUN in v.overrides and not (isinstance(run, str) and run):
            raise InvalidExperiment(f"variants.{n}.overrides.{TRAINING_RUN}", "a run id")
