"""Settings of the Cassandra connection and of the vectors stored: one part of Settings."""
from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

ConsistencyName = Literal[
    "ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM", "LOCAL_ONE"
]


class StorageSettings(BaseSettings):
    # --- Cassandra connection ---
    cassandra_contact_points: str = Field(
        "", description="Comma-separated hosts. Empty: use (and start) the local dev node."
    )
    cassandra_port: int = Field(9042, description="CQL native port.")
    cassandra_local_dc: str = Field("datacenter1", description="Datacenter the driver prefers.")
    cassandra_username: str = Field("", description="Set to use password authentication.")
    cassandra_password: str = ""
    cassandra_keyspace: str = Field("killrvideo", description="Keyspace for all tables.")
    cassandra_replication: str = Field(
        "SimpleStrategy:1",
        description="'SimpleStrategy:RF' or 'NetworkTopologyStrategy:dc1=3,dc2=3'.",
    )
    cassandra_read_consistency: ConsistencyName = Field(
        "LOCAL_ONE", description="Reads (ANN queries always run at ONE/LOCAL_ONE).")
    cassandra_write_consistency: ConsistencyName = Field(
        "LOCAL_QUORUM", description="Writes; profile updates use LOCAL_SERIAL for their condition.")
    cassandra_request_timeout_s: float = Field(2.0, description="Per CQL request.")
    cassandra_connect_timeout_s: float = Field(10.0, description="Per connection attempt.")
    request_deadline_s: float = Field(
        5.0, description="Budget for a whole HTTP request; past it the answer is 503.")

    # --- vectors and embeddings ---
    vector_dimension: int = Field(384, description="Dimension of content_features and preference_vector.")
    embedding_provider: Literal["minilm", "openai", "hashing"] = Field(
        "minilm", description="minilm: all-MiniLM-L6-v2 in-process; openai: HTTP API; hashing: tests only.")
    embedding_model_id: str = Field(
        "", description="Override the model id recorded on vectors (default: provider's own)."
    )
    openai_base_url: str = Field("http://127.0.0.1:8080/v1",
                                 description="OpenAI-compatible embeddings API base URL.")
    openai_api_key: str = Field("", description="Sent as a Bearer token when set.")
    openai_model: str = Field("text-embedding-3-small", description="Model name sent to the API.")
    openai_timeout_s: float = Field(30.0, description="Per embeddings HTTP call.")

