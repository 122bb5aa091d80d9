"""The one settings class. Every knob is an environment variable (prefix-free names
are kept short and documented in the README)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from functools import lru_cache
from types import MappingProxyType
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from killrvideo_reco.domain.models import CandidateSizes
from killrvideo_reco.domain.schedule import parse_schedule

ConsistencyName = Literal[
    "ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM", "LOCAL_ONE"
]


# Public (it is in the source): serving with it is refused unless DEV_MODE is on.
DEV_JWT_SECRET = "dev-only-change-me-killrvideo-reco-secret"


class UnsafeSettings(RuntimeError):
    """Settings that must not reach production; the message says what to change."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

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

    # --- behaviour space and training (make train) ---
    behaviour_dimension: int = Field(
        32, ge=2, le=512, description="Factors of the learned behaviour space (videos get one more).")
    train_model: Literal["svd", "als"] = Field(
        "svd", description="svd: PureSVD (scipy); als: implicit ALS (implicit).")
    train_alpha: float = Field(2.0, gt=0, description="Confidence = 1 + alpha * weight (ALS only).")
    train_regularization: float = Field(1.0, ge=0, description="ALS L2 regularisation.")
    train_als_penalty: Literal["flat", "weighted"] = Field(
        "flat", description="Local engine's ALS: flat: one lambda for every row (implicit); "
        "weighted: ALS-WR's penalty, lambda scaled by each row's positives with the mean "
        "viewer at lambda, the objective the Spark engine's MLlib fits (training/als_wr.py).")
    train_iterations: int = Field(15, ge=1, description="ALS iterations.")
    train_seed: int = Field(
        7, ge=0, description="Seed of the factor fit's start and of the ranking-weight "
        "sample: the same history and seed give the same run; another seed shows how much "
        "of a result is chance.")
    train_holdout_per_viewer: int = Field(
        3, ge=1, description="Each viewer's latest positives held out to fit the ranking.")
    train_min_viewers: int = Field(2, ge=1, description="Videos watched by fewer viewers are "
                                   "not trained; they get vectors from the content map.")
    train_content_map_ridge: float = Field(
        10.0, gt=0, description="Ridge penalty of the content -> behaviour map for new videos.")
    train_engine: Literal["local", "spark"] = Field(
        "local", description="local: one process (TRAIN_MODEL); spark: ALS in Spark MLlib "
        "(TRAIN_MODEL is ignored), history read through the Spark Cassandra Connector. Needs "
        "PySpark: the make targets install it into .venv-spark when TRAIN_ENGINE=spark.")
    train_schedule: str = Field(
        "", description="Retrain on a schedule, e.g. `every 24h` or `every 30m`; empty: off. "
        "The replica that wins the training lease runs it; a failed run leaves the live one "
        "serving and the next slot retries.")

    # --- the Spark engine (TRAIN_ENGINE=spark) ---
    spark_master: str = Field(
        "local[*]", description="Where the Spark driver sends work: `local[*]` (in-process), "
        "`spark://host:7077` (a standalone master, e.g. make spark-up), `yarn`, `k8s://...`.")
    spark_driver_memory: str = Field(
        "1g", description="spark.driver.memory. The driver holds catalogue-sized data only "
        "(item factors, content vectors, a 2,000-viewer sample for the ranking weights).")
    spark_executor_memory: str = Field(
        "1g", description="spark.executor.memory, per executor (grows with watches per executor).")
    spark_executor_cores: int = Field(
        0, ge=0, description="spark.executor.cores; 0 leaves Spark's default (all of a worker's).")
    spark_packages: str = Field(
        "com.datastax.spark:spark-cassandra-connector_2.12:3.5.1",
        description="spark.jars.packages: Maven coordinates resolved by the driver (Maven "
        "Central) and shipped to the executors.")
    spark_partitions: int = Field(
        0, ge=0, description="Shuffle partitions and ALS blocks; 0: twice the executors' cores.")
    spark_cassandra_read_consistency: ConsistencyName = Field(
        "LOCAL_ONE", description="Consistency of the connector's history scan (its default). "
        "LOCAL_QUORUM reads what a quorum acknowledged, at twice the replica reads.")
    spark_cassandra_split_size_mb: int = Field(
        64, ge=1, description="spark.cassandra.input.split.sizeInMB: token-range split size, "
        "so the number of Spark partitions the history scan has (estimated from table size).")
    spark_cassandra_fetch_size_rows: int = Field(
        1000, ge=1, description="spark.cassandra.input.fetch.sizeInRows: rows per page.")
    spark_executor_wait_s: float = Field(
        120.0, gt=0, description="How long a standalone master may take to give the job its "
        "first executor. A master with no worker, or none with the cores and memory asked, "
        "would otherwise keep the job waiting for ever: it fails instead, and the live run "
        "serves on.")
    spark_extra_conf: str = Field(
        "", description="More Spark properties, `key=value` comma-separated (e.g. "
        "`spark.executor.instances=4`).")

    # --- auth ---
    jwt_algorithm: Literal["HS256", "HS384", "HS512", "RS256", "ES256"] = Field(
        "HS256", description="The only algorithm accepted.")
    jwt_secret: str = Field(DEV_JWT_SECRET, description="HS* shared secret. The service "
                            "refuses to serve with the default unless DEV_MODE=1.")
    jwt_public_key: str = Field("", description="PEM public key (RS256/ES256).")
    jwt_issuer: str = Field("", description="Required `iss` when set.")
    jwt_audience: str = Field("", description="Required `aud` when set.")
    jwt_leeway_s: int = Field(30, description="Clock skew tolerated on exp/nbf/iat.")
    jwt_role_map: str = Field(
        "", description="Role claims of another issuer mapped onto ours, e.g. `active=viewer` "
        "for the KillrVideo backend's tokens (`roles: [\"active\"]`). Comma-separated "
        "`theirs=ours` pairs; ours is viewer, creator or moderator. Unmapped claims that are "
        "not ours grant nothing.")

    # --- feed ---
    feed_similarity_floor: float = Field(
        0.0, description="Minimum cosine similarity (-1..1) for a personalised item."
    )
    feed_overfetch_factor: float = Field(
        2.0, description="ANN rows asked per item needed (before exclusions).")
    feed_candidate_window: int = Field(
        50, description="Smallest ANN LIMIT; doubled while a page comes up short.")
    feed_cache_ttl_s: float = Field(
        30.0, description="How long trending/latest lists and the catalogue model are cached.")
    view_facts_cache_size: int = Field(
        20_000, ge=0, description="Videos whose facts (embedding, creator, duration) view events "
        "keep in memory for FEED_CACHE_TTL_S; 0 reads them for every event.")
    view_state_cache_size: int = Field(
        2000, ge=0, description="Viewers whose taste state, as this replica last committed it, "
        "view events keep in memory (40-90 KB each: the sums, the recent likes' vectors, the "
        "channels changed since the snapshot): their next event starts from it, reading "
        "neither the head nor the journal. Its version is what the conditional write "
        "expects, so a kept state is never used stale. 0 turns it off.")
    view_reference_cache_ttl_s: float = Field(
        3600.0, ge=0, description="How long view events keep the videos a taste state refers "
        "to (recent likes, interest medoids; at most VIEW_FACTS_CACHE_SIZE) resolved in memory: "
        "a video's vector never changes under one model. 0: only the facts cache.")
    feed_max_ann_limit: int = Field(1000, description="Cassandra caps ANN LIMIT at 1000.")
    video_summary_cache_size: int = Field(
        10_000, ge=0, description="Video summaries (title, thumbnail, tags) kept per process "
        "for FEED_CACHE_TTL_S: feed pages and related videos read a popular video's once per "
        "period, not once per request. 0 turns the cache off.")
    feed_list_cache_size: int = Field(
        500, ge=0, description="Viewers whose ranked For You list each replica keeps, so that "
        "page 2, page 3 and a reload cost one key read (about 250 KB a viewer at the default "
        "candidate sizes). The key is the viewer's profile version and the live run: their "
        "next view or hide invalidates it. 0 turns the cache off.")
    feed_list_cache_ttl_s: float = Field(
        60.0, ge=0, description="How long a cached ranked list serves (new uploads and "
        "trending reach a viewer's cached list after at most this long).")
    feed_neighbours: int = Field(
        100, ge=0, le=1000, description="Neighbours kept per video (video_neighbours): in "
        "the content space (at upload or first use; interests read them) and in each "
        "training run's behaviour space (exact, at training; the just-watched source and "
        "related videos read them). 0: one ANN query per interest and request instead.")
    feed_neighbours_max_age_h: float = Field(
        24.0, gt=0, description="A neighbour list older than this is recomputed when next "
        "read, so videos uploaded since enter it.")
    feed_just_watched_videos: int = Field(
        3, ge=0, le=20, description="The just-watched source: how many of the viewer's most "
        "recent positive videos lend their behaviour neighbour list (written at training). "
        "0 turns the source and its ranking feature off.")
    feed_just_watched_candidates: int = Field(
        20, ge=0, le=200, description="Unseen candidates the just-watched source takes from "
        "each of those lists, best first.")
    python_gc_threshold: int = Field(
        10_000, ge=0, description="Allocations between two collections of Python's young "
        "generation in the server (Python's default: 700), with what is alive after start-up "
        "frozen out of collections; 0 leaves Python's defaults. The caches hold hundreds of "
        "thousands of objects, which the default collects a full pass over every few dozen "
        "requests.")
    feed_feature_cache_size: int = Field(
        50_000, ge=1, description="Videos whose ranking features (behaviour and content "
        "vectors, popularity, creator) each replica keeps per training run, for every "
        "candidate of the two-stage feed (about 2.4 KB a video at 384 dimensions: "
        "120 MB at the default).")
    trending_window_days: int = Field(
        7, description="Trending = most distinct viewers in this many days.")
    view_clock_skew_s: float = Field(
        300.0, ge=0, le=86400, description="A view's watchedAt may be at most this far ahead of "
        "the server's clock (client clocks drift); later ones get 422.")
    view_earliest_watched_at: datetime = Field(
        datetime(1980, 1, 1, tzinfo=timezone.utc), description="A view's watchedAt before this "
        "gets 422: a client's zero-value time (0001-01-01, 1970-01-01), not a view.")
    feed_behaviour_candidates: int = Field(
        100, ge=10, le=1000, description="ANN rows asked in the behaviour space per request.")
    feed_content_candidates: int = Field(
        50, ge=10, le=1000, description="ANN rows asked in the content space per request.")
    feed_popular_candidates: int = Field(
        50, ge=0, le=1000, description="Trending/most-popular videos added as candidates.")
    feed_interests: int = Field(
        3, ge=1, le=8, description="Interests (clusters of recent likes) per viewer, each "
                                   "queried for content candidates.")
    feed_interest_similarity: float = Field(
        0.5, ge=-1, le=1, description="Cosine a like needs to a medoid to join its interest; "
                                       "below it the recent likes are reclustered.")
    feed_diversity_lambda: float = Field(
        0.8, ge=0, le=1, description="MMR trade-off: 1 = ranking only, lower = more diverse.")
    feed_creator_cap: int = Field(
        3, ge=0, description="At most this many videos of one creator per block of "
                             "FEED_SHAPING_BLOCK positions (0 = no cap).")
    feed_shaping_block: int = Field(
        10, ge=1, le=100, description="Block of positions the creator cap and the interest "
                                      "coverage apply to (positions 1-10, 11-20, ...).")
    feed_shaping_window: int = Field(
        200, ge=10, le=1000, description="Ranked candidates re-ranked by MMR; the tail keeps "
                                         "the ranking order.")
    feed_freshness_days: float = Field(
        14.0, ge=0, description="Videos added within this many days get the freshness boost.")
    feed_freshness_boost: float = Field(
        1.1, ge=1, le=3, description="Multiplier on a fresh video's relevance (1 = off).")

    # --- taste profiles ---
    profile_half_life_days: float = Field(200.0, description="Recency decay half-life.")
    profile_bounce_threshold: float = Field(0.10, description="Completion below this is a bounce.")
    profile_bounce_weight: float = Field(-0.3, description="Weight of a bounce (<= 0).")
    profile_hidden_weight: float = Field(-0.5, description="Weight of a hidden video (<= 0).")
    profile_completion_cap: float = Field(2.0, description="Rewatches count up to this completion.")
    profile_channel_saturation: float = Field(
        3.0, description="An uploader counts as at most this many positive videos.")
    profile_min_positive_videos: int = Field(3, description="Positive videos before a profile exists.")
    profile_default_duration_s: float = Field(600.0, description="Assumed when a duration is unknown.")
    profile_negative_share: float = Field(
        0.5, ge=0, lt=1, description="Bounces and hides push the profile by at most this "
                                     "share of the likes' length, so they never erase a taste.")
    profile_journal_commits: int = Field(
        16, ge=1, description="A view or hide appends its change to the viewer's taste journal "
        "(about 90 bytes) instead of rewriting the state's 6 KB of sums; every this-many-th "
        "commit writes a snapshot and clears the journal. 1: a snapshot at every commit.")

    # --- serving ---
    host: str = Field("127.0.0.1", description="HTTP bind address.")
    port: int = Field(8000, description="HTTP port.")
    # One process serves on one core: a few requests in flight cover Cassandra's round
    # trips; more only queue inside the event loop and slow every answer. The limit adapts
    # between these bounds to the service times it measures (api/overload.py).
    min_in_flight_requests: int = Field(
        6, ge=1, description="Lowest the adaptive concurrency limit goes (and where it starts "
                             "when below INITIAL_IN_FLIGHT_REQUESTS).")
    initial_in_flight_requests: int = Field(
        8, ge=1, description="The adaptive concurrency limit at start-up.")
    max_in_flight_requests: int = Field(
        12, ge=1, description="Highest the adaptive concurrency limit goes; more requests "
                              "wait in the queue.")
    max_queued_requests: int = Field(
        256, ge=0, description="Requests waiting for a slot at most; beyond them the answer "
                               "is an immediate 503 with Retry-After.")
    queue_wait_s: float = Field(
        1.0, ge=0, le=60, description="Beyond two rounds behind the limit, a request joins the "
        "queue only if its expected wait is within this; otherwise an immediate 503 with "
        "Retry-After. One still queued at REQUEST_DEADLINE_S gets the 503 then.")
    http_keep_alive_s: int = Field(
        75, ge=1, le=3600, description="How long an idle HTTP connection is kept open. Longer "
        "than the idle timeout of the proxy or load balancer in front (60 s for nginx's and "
        "AWS ALB's defaults): a server that closes first races the proxy reusing the "
        "connection, and that request fails without reaching the service.")
    shutdown_grace_s: float = Field(
        10.0, ge=0, description="On SIGTERM: how long in-flight requests may take to finish "
                                "(uvicorn's graceful timeout), and running jobs to record "
                                "their state.")

    # --- background jobs (POST /api/v1/admin/jobs/..., make profiles, make train) ---
    job_lease_ttl_s: int = Field(
        30, ge=2, description="A job's lease on its kind lapses this long after its process "
                              "stops renewing it; the job is then reported interrupted.")
    job_progress_interval_s: float = Field(
        1.0, gt=0, description="A running job saves its progress at most this often.")
    job_resume_max_age_s: float = Field(
        86400.0, ge=0, description="An interrupted job's cursor older than this is not "
                                   "resumed: the next job of its kind starts from scratch.")

    # --- the closed loop: impressions and attribution (docs/operations.md) ---
    record_impressions: bool = Field(
        True, description="Record what feed pages and related answers showed each signed-in "
                          "viewer, and attribute views to it. Off: recommendationId is still "
                          "returned, nothing is recorded.")
    impression_ttl_days: int = Field(
        30, ge=1, le=365, description="Impression rows expire this long after they were shown.")
    attribution_window_h: float = Field(
        24.0, gt=0, le=168, description="A view of a video shown to the viewer within this "
        "many hours counts as a click on that impression, with or without recommendationId.")
    feed_impression_limit: int = Field(
        3, ge=0, le=1000, description="A video shown on this many feed pages (or related "
        "answers) within FEED_IMPRESSION_WINDOW_DAYS before the current session, and not "
        "watched, is dropped from the viewer's feed; 0 = off.")
    feed_impression_window_days: int = Field(
        7, ge=1, le=30, description="The window FEED_IMPRESSION_LIMIT counts in.")
    feed_impression_rows: int = Field(
        500, ge=10, le=5000, description="The newest impression rows (items shown; 50 pages "
        "of 10) FEED_IMPRESSION_LIMIT counts in, at most: bounds the read, once per browsing "
        "session, whatever the viewer browsed in the window.")
    feed_session_gap_min: float = Field(
        30.0, gt=0, le=1440, description="A pause this long ends a browsing session: the "
        "current session's pages do not count towards FEED_IMPRESSION_LIMIT.")
    feed_repeat_cache_size: int = Field(
        10_000, ge=0, description="Viewers whose over-shown videos (FEED_IMPRESSION_LIMIT) each "
        "replica keeps for up to FEED_SESSION_GAP_MIN, so the impressions are read once per "
        "browsing session, not on every page 1 (a few hundred bytes a viewer); 0 = read "
        "every time.")
    impression_counter_flush_s: float = Field(
        1.0, ge=0, le=60, description="The online metrics' daily counters are summed in "
        "process and written this often (one counter batch per day, source and variant), "
        "not per page: counter updates are dear. A crash loses at most this long's counts; "
        "0 = write every page's at once.")
    impression_queue_size: int = Field(
        10_000, ge=1, description="Impression and counter writes waiting for the background "
        "writers at most; beyond it they are dropped (counted in /metrics and logged).")
    video_impression_buckets: int = Field(
        64, ge=1, le=1024, description="Partitions per day of video_impressions_by_day (which "
        "videos each viewer was shown): a day's distinct (video, viewer) pairs spread over "
        "them by viewer. Raise it only: rows in buckets beyond a lowered count are not read "
        "until they expire.")
    new_viewer_max_watched: int = Field(
        10, ge=1, le=10_000, description="A viewer whose taste profile holds fewer positive "
        "videos than this is new: the feed pages served to them are counted, with the share "
        "that was personalised, in the online metrics.")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_format: Literal["text", "json"] = Field(
        "text", description="text: human-readable lines; json: one JSON object per line.")
    dev_mode: bool = Field(
        False, description="Development mode: allows serving with the built-in JWT secret.")

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
