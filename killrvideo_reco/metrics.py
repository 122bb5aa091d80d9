"""Every Prometheus metric the service exposes on GET /metrics, defined in one place.
docs/operations.md says what each one means. Metrics live in the process-wide default
registry, so the HTTP app and the jobs it runs report into the same scrape."""
from __future__ import annotations

from collections.abc import Mapping, Sized

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "killrvideo_http_requests_total", "HTTP requests answered, by route template and status.",
    ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "killrvideo_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
HTTP_IN_FLIGHT = Gauge(
    "killrvideo_http_requests_in_flight",
    "Requests being served now (health checks and /metrics not counted).")
OVERLOAD_REJECTIONS = Counter(
    "killrvideo_http_overload_rejections_total",
    "Requests answered 503 by the concurrency limit: `queue_full` at once (queue full, or "
    "its expected wait beyond QUEUE_WAIT_S), `queue_timeout` after REQUEST_DEADLINE_S in "
    "the queue.", ["reason"])
CONCURRENCY_LIMIT = Gauge(
    "killrvideo_http_concurrency_limit",
    "The adaptive limit of requests served at once (MIN_ to MAX_IN_FLIGHT_REQUESTS).")
EVENT_LOOP_LAG = Histogram(
    "killrvideo_event_loop_lag_seconds",
    "How late the event loop ran a timer that was due (sampled four times a second).",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0))
AUTH_TOKENS = Counter(
    "killrvideo_auth_tokens_total",
    "Bearer tokens checked: `kept` (accepted before and still in date, JWT_CACHE_SIZE), "
    "`verified` (signature and claims checked: accepted), `refused` (401).", ["result"])
FEED_RESPONSES = Counter(
    "killrvideo_feed_responses_total", "For You pages served, by source.", ["source"])
CANDIDATES_FETCHED = Counter(
    "killrvideo_feed_candidates_fetched_total",
    "Feed candidates read from Cassandra (ANN rows and the popular pool), by source.",
    ["source"])
CANDIDATES_KEPT = Counter(
    "killrvideo_feed_candidates_kept_total",
    "Feed candidates left after dropping watched, hidden and below-floor videos, by path.",
    ["path"])
FEED_LIST_CACHE = Counter(
    "killrvideo_feed_list_cache_total",
    "Personalised feed requests answered from the ranked-list cache (hit) or computed and "
    "cached (miss).", ["result"])
FEED_REPEAT_CACHE = Counter(
    "killrvideo_feed_repeat_cache_total",
    "Over-shown sets (FEED_IMPRESSION_LIMIT) found in the replica's per-session cache (hit) "
    "or read from the viewer's impressions (miss).", ["result"])
NEIGHBOUR_LISTS = Counter(
    "killrvideo_neighbour_lists_total",
    "Interest neighbour lists read by key (stored) or computed with an ANN query and "
    "stored (computed: new, of another model, or older than FEED_NEIGHBOURS_MAX_AGE_H).",
    ["result"])
FEATURE_CACHE = Counter(
    "killrvideo_feature_cache_total",
    "Candidates whose ranking features were in the replica's feature cache (hit) or read "
    "from videos (miss): a miss rate that stays high says FEED_FEATURE_CACHE_SIZE is "
    "small for the catalogue the viewers' candidates come from.", ["result"])
NEIGHBOUR_LIST_CACHE = Counter(
    "killrvideo_neighbour_list_cache_total",
    "Neighbour lists (interests, just watched, related videos) found in the replica's "
    "cache (hit) or read from video_neighbours (miss).", ["result"])
FEED_VIEWER_NEAREST = Counter(
    "killrvideo_feed_viewer_nearest_total",
    "The behaviour source of a page 1: the viewer's kept nearest list reused (reused), an "
    "ANN query (queried), or a kept list that could not be written (write_failed).",
    ["result"])
ANN_WIDENINGS = Counter(
    "killrvideo_feed_ann_widenings_total",
    "ANN searches repeated with a larger LIMIT because too few candidates were unseen.",
    ["path"])
CASSANDRA_ERRORS = Counter(
    "killrvideo_cassandra_errors_total", "Failed CQL requests, by driver error type.", ["error"])
VIEW_EVENTS = Counter(
    "killrvideo_view_events_total",
    "Playback events received: recorded, or duplicate (an event id already counted).",
    ["outcome"])
VIEW_WRITE_BATCHES = Histogram(
    "killrvideo_view_write_batch_size",
    "Views per statement of the writes that follow a view's commit and are shared by the "
    "views that commit together: counts (the view counters).",
    ["kind"], buckets=(1, 2, 3, 4, 6, 8))
TASTE_COMMITS = Counter(
    "killrvideo_taste_commits_total",
    "Taste-state commits by what they wrote: journal (an entry), snapshot (the head and "
    "channel rows, every PROFILE_JOURNAL_COMMITS-th), rebuild (a state rebuilt from history).",
    ["kind"])
TASTE_KEPT_STATES = Counter(
    "killrvideo_taste_kept_states_total",
    "Commits by where they started: used (the state this replica kept), absent (none kept: "
    "read from the store), stale (kept, but another replica had committed since: retried).",
    ["result"])
JOBS = Counter(
    "killrvideo_jobs_total", "Background jobs this process ran that ended, by kind and "
    "status (succeeded, failed, interrupted).",
    ["kind", "status"])
JOB_PROGRESS = Gauge(
    "killrvideo_job_progress_ratio", "Share of the latest job of each kind done (0..1).",
    ["kind"])
JOB_ITEMS = Gauge(
    "killrvideo_job_items_processed", "Items (users, rows) the latest job of each kind has "
    "processed.", ["kind"])

# The closed loop (issue 22). Labels stay bounded: source is one of four, variant one of
# the running experiment's few names (or "default"), position "1".."10" or "11+".
RECO_IMPRESSIONS = Counter(
    "killrvideo_reco_impressions_total",
    "Items shown (feed pages and related answers to signed-in viewers), by page source, "
    "experiment variant and position.", ["source", "variant", "position"])
RECO_NEW_VIEWER_PAGES = Counter(
    "killrvideo_reco_new_viewer_pages_total",
    "Feed pages served to new viewers (fewer than NEW_VIEWER_MAX_WATCHED positive videos), "
    "by source and variant: the personalised share is source=\"personalized\" over all.",
    ["source", "variant"])
RECO_ATTRIBUTED_VIEWS = Counter(
    "killrvideo_reco_attributed_views_total",
    "Views attributed to an impression (clicks), by the impression's source, variant and "
    "position: CTR at a position is this over killrvideo_reco_impressions_total.",
    ["source", "variant", "position"])
RECO_ATTRIBUTED_WATCH_SECONDS = Counter(
    "killrvideo_reco_attributed_watch_seconds_total",
    "Seconds watched in attributed views, by source and variant.", ["source", "variant"])
RECO_ATTRIBUTED_COMPLETIONS = Counter(
    "killrvideo_reco_attributed_completions_total",
    "Attributed views that played at least 90% of the video.", ["source", "variant"])
IMPRESSION_WRITES = Counter(
    "killrvideo_impression_writes_total",
    "Background impression and counter writes: written, failed (logged, not retried "
    "further), or dropped (the queue of IMPRESSION_QUEUE_SIZE was full).",
    ["kind", "outcome"])


def count_candidates(path: str, fetched: Mapping[str, Sized], kept: int) -> None:
    """One feed computation: candidates fetched per source, and how many survived."""
    for source, rows in fetched.items():
        CANDIDATES_FETCHED.labels(source).inc(len(rows))
    CANDIDATES_KEPT.labels(path).inc(kept)


def job_progress(kind: str, snapshot: Mapping) -> None:
    total = snapshot.get("total") or 0
    JOB_PROGRESS.labels(kind).set(snapshot.get("done", 0) / total if total else 1.0)
    JOB_ITEMS.labels(kind).set(snapshot.get("items", 0))
