"""Settings of serving: auth, taste profiles, the HTTP server, background jobs, the closed
loop and logs; one part of Settings."""
from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

# Public (it is in the source): serving with it is refused unless DEV_MODE is on.
DEV_JWT_SECRET = "dev-only-change-me-killrvideo-reco-secret"


class ServingSettings(BaseSettings):
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
    jwt_cache_size: int = Field(
        10_000, ge=0, description="Accepted tokens remembered per replica until they expire, "
        "so a client's next request skips the signature check (about 0.1 ms of the event "
        "loop). Only tokens that passed every check are kept. 0 turns it off.")


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
    feed_impression_pages: int = Field(
        50, ge=1, le=500, description="The newest pages (feed pages and related answers) "
        "FEED_IMPRESSION_LIMIT counts in, at most: bounds the read (one row a page), once "
        "per browsing session, whatever the viewer browsed in the window.")
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

