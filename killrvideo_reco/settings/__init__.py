"""The one settings class, composed of its parts (storage, training, feed, serving: one
module each, fields only). Every knob is an environment variable (prefix-free names are
kept short and documented in the README)."""
from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

from pydantic import field_validator
from pydantic_settings import SettingsConfigDict

from killrvideo_reco.domain.models import CandidateSizes
from killrvideo_reco.domain.schedule import parse_schedule
from killrvideo_reco.settings.feed import FeedSettings
from killrvideo_reco.settings.serving import DEV_JWT_SECRET, ServingSettings
from killrvideo_reco.settings.storage import ConsistencyName, StorageSettings
from killrvideo_reco.settings.training import TrainingSettings

__all__ = ["DEV_JWT_SECRET", "ConsistencyName", "Settings", "UnsafeSettings", "get_settings",
           "replication_map", "role_map"]


class UnsafeSettings(RuntimeError):
    """Settings that must not reach production; the message says what to change."""


class Settings(StorageSettings, TrainingSettings, FeedSettings, ServingSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    @field_validator("cassandra_replication")
    @classmethod
    def _replication_shape(cls, value: str) -> str:
        replication_map(value)  # raises ValueError on a bad spec
        return value

    @field_validator("train_schedule")
    @classmethod
    def _schedule_shape(cls, value: str) -> str:
        parse_schedule(value)  # raises ValueError on a bad spec
        return value

    @field_validator("jwt_role_map")
    @classmethod
    def _role_map_shape(cls, value: str) -> str:
        role_map(value)  # raises ValueError on a bad spec
        return value

    @property
    def role_map(self) -> Mapping[str, str]:
        return role_map(self.jwt_role_map)

    @property
    def candidate_sizes(self) -> CandidateSizes:
        """The feed's candidate sizes, as serving uses them and training fits for them."""
        return CandidateSizes(self.feed_behaviour_candidates, self.feed_content_candidates,
                              self.feed_popular_candidates, self.feed_just_watched_videos,
                              self.feed_just_watched_candidates, self.feed_neighbours)

    def check_safe_to_serve(self) -> None:
        """Refuse to serve with the public development secret (or a guessable short one)
        outside development mode."""
        if self.dev_mode or not self.jwt_algorithm.startswith("HS"):
            return
        fix = ("Set JWT_SECRET to a random value of at least 32 bytes (e.g. `openssl rand "
               "-hex 32`), or use JWT_PUBLIC_KEY, or set DEV_MODE=1 on a development machine.")
        if self.jwt_secret == DEV_JWT_SECRET:
            raise UnsafeSettings("JWT_SECRET is the public development secret: anyone could "
                                 f"mint tokens. {fix}")
        if len(self.jwt_secret.encode()) < 32:
            raise UnsafeSettings(f"JWT_SECRET is shorter than 32 bytes. {fix}")

    @property
    def contact_points(self) -> list[str]:
        return [h.strip() for h in self.cassandra_contact_points.split(",") if h.strip()]

    @property
    def replication(self) -> dict[str, str | int]:
        return replication_map(self.cassandra_replication)


OUR_ROLES = ("viewer", "creator", "moderator")


@lru_cache(maxsize=16)  # every authenticated request reads it: parse each spec once
def role_map(spec: str) -> Mapping[str, str]:
    """'active=viewer,admin=moderator' -> {'active': 'viewer', 'admin': 'moderator'}."""
    result: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        theirs, _, ours = (x.strip() for x in part.partition("="))
        if not theirs or ours not in OUR_ROLES:
            raise ValueError(f"bad JWT_ROLE_MAP entry {part!r}: want theirs=ours, with ours "
                             f"one of {', '.join(OUR_ROLES)}")
        result[theirs] = ours
    return MappingProxyType(result)


def replication_map(spec: str) -> dict[str, str | int]:
    """Turn 'SimpleStrategy:1' or 'NetworkTopologyStrategy:dc1=3,dc2=2' into CQL's map."""
    strategy, _, rest = spec.partition(":")
    strategy = strategy.strip()
    if strategy == "SimpleStrategy":
        factor = int(rest or "1")
        if factor < 1:
            raise ValueError("replication factor must be >= 1")
        return {"class": "SimpleStrategy", "replication_factor": factor}
    if strategy == "NetworkTopologyStrategy":
        result: dict[str, str | int] = {"class": "NetworkTopologyStrategy"}
        for part in rest.split(","):
            dc, _, dc_factor = part.partition("=")
            if not dc.strip() or not dc_factor.strip().isdigit():
                raise ValueError(f"bad per-DC replication entry {part!r}; want dc=RF")
            result[dc.strip()] = int(dc_factor)
        if len(result) == 1:
            raise ValueError("NetworkTopologyStrategy needs at least one dc=RF")
        return result
    raise ValueError(
        f"unknown replication strategy {strategy!r}; use SimpleStrategy or NetworkTopologyStrategy"
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

