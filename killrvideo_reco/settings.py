"""The one settings class. Every knob is an environment variable (prefix-free names
are kept short and documented in the README)."""
from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ConsistencyName = Literal[
    "ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM", "LOCAL_ONE"
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    # --- Cassandra connection ---
    cassandra_contact_points: str = Field(
        "", description="Comma-separated hosts. Empty: use (and start) the local dev node."
    )
    cassandra_port: int = 9042
    cassandra_local_dc: str = "datacenter1"
    cassandra_username: str = ""
    cassandra_password: str = ""
    cassandra_keyspace: str = "killrvideo"
    cassandra_replication: str = Field(
        "SimpleStrategy:1",
        description="'SimpleStrategy:RF' or 'NetworkTopologyStrategy:dc1=3,dc2=3'.",
    )
    cassandra_read_consistency: ConsistencyName = "LOCAL_ONE"
    cassandra_write_consistency: ConsistencyName = "LOCAL_QUORUM"
    cassandra_request_timeout_s: float = 2.0
    cassandra_connect_timeout_s: float = 10.0
    request_deadline_s: float = Field(
        5.0, description="Budget for a whole HTTP request; past it the answer is 503.")

    # --- vectors and embeddings ---
    vector_dimension: int = 384
    embedding_provider: Literal["minilm", "openai", "hashing"] = "minilm"
    embedding_model_id: str = Field(
        "", description="Override the model id recorded on vectors (default: provider's own)."
    )
    openai_base_url: str = "http://127.0.0.1:8080/v1"
    openai_api_key: str = ""
    openai_model: str = "text-embedding-3-small"
    openai_timeout_s: float = 30.0

    # --- auth ---
    jwt_algorithm: Literal["HS256", "HS384", "HS512", "RS256", "ES256"] = "HS256"
    jwt_secret: str = "dev-only-change-me-killrvideo-reco-secret"
    jwt_public_key: str = Field("", description="PEM public key (RS256/ES256).")
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_leeway_s: int = 30

    # --- feed ---
    feed_similarity_floor: float = Field(
        0.0, description="Minimum cosine similarity (-1..1) for a personalised item."
    )
    feed_overfetch_factor: float = 2.0
    feed_candidate_window: int = Field(
        50, description="Smallest ANN LIMIT; doubled while a page comes up short.")
    feed_cache_ttl_s: float = Field(
        30.0, description="How long trending/latest lists and the catalogue model are cached.")
    feed_max_ann_limit: int = 1000
    feed_default_page_size: int = 10
    feed_max_page_size: int = 100
    trending_window_days: int = 7

    # --- taste profiles ---
    profile_half_life_days: float = 200.0
    profile_bounce_threshold: float = 0.10
    profile_bounce_weight: float = -0.3
    profile_hidden_weight: float = -0.5
    profile_completion_cap: float = 2.0
    profile_channel_saturation: float = 3.0
    profile_min_positive_videos: int = 3
    profile_default_duration_s: float = 600.0

    # --- serving ---
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"

    @field_validator("cassandra_replication")
    @classmethod
    def _replication_shape(cls, value: str) -> str:
        replication_map(value)  # raises ValueError on a bad spec
        return value

    @property
    def contact_points(self) -> list[str]:
        return [h.strip() for h in self.cassandra_contact_points.split(",") if h.strip()]

    @property
    def replication(self) -> dict[str, str | int]:
        return replication_map(self.cassandra_replication)


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
            dc, _, factor = part.partition("=")
            if not dc.strip() or not factor.strip().isdigit():
                raise ValueError(f"bad per-DC replication entry {part!r}; want dc=RF")
            result[dc.strip()] = int(factor)
        if len(result) == 1:
            raise ValueError("NetworkTopologyStrategy needs at least one dc=RF")
        return result
    raise ValueError(
        f"unknown replication strategy {strategy!r}; use SimpleStrategy or NetworkTopologyStrategy"
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
