"""Settings of the For You feed and related videos: one part of Settings."""
from __future__ import annotations

from datetime import datetime, timezone

from pydantic import Field
from pydantic_settings import BaseSettings


class FeedSettings(BaseSettings):
    # --- feed ---
    feed_similarity_floor: float = Field(
        0.0, description="Minimum cosine similarity (-1..1) for a personalised item."
    )
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
        "read, so videos uploaded since enter it; so is a viewer's kept nearest list "
        "(FEED_VIEWER_NEAREST).")
    feed_viewer_nearest: bool = Field(
        True, description="Keep each viewer's behaviour ANN answer with their read model, "
        "and answer their next page 1 from it while it still answers their query "
        "(FEED_VIEWER_NEAREST_MIN_COSINE): a page 1 after a few views, on another replica "
        "or after the ranked-list cache let go, then makes no ANN query. Needs "
        "FEED_NEIGHBOURS > 0 (the features come from the same cache).")
    feed_viewer_nearest_min_cosine: float = Field(
        0.98, ge=0, le=1, description="How close (cosine) the viewer's behaviour query must "
        "still be to the one their kept nearest list answered for the list to serve; each "
        "view moves it. The candidates are rescored with the current query either way: "
        "only the recall of the list's tail is at stake. 1: only an unchanged query.")
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
    feed_neighbour_cache_size: int = Field(
        20_000, ge=0, description="Neighbour lists (a video's list in one space and one run "
        "or embedding model) each replica keeps for FEED_NEIGHBOUR_CACHE_TTL_S, for the "
        "feed's interests and just-watched sources and for related videos: a popular video's "
        "lists are read once per period, not on every page 1. About 1.6 KB a list of 100, "
        "plus 0.2 KB per distinct video listed, since the lists share their ids' objects "
        "(at most 200,000 of them): about 50 MB at the default over a 100k-video catalogue. "
        "0 reads them every time.")
    feed_neighbour_cache_ttl_s: float = Field(
        300.0, ge=0, description="How long a cached neighbour list serves. A run's behaviour "
        "lists never change; a content list recomputed by another replica reaches this one "
        "after at most this long (FEED_NEIGHBOURS_MAX_AGE_H still applies to it).")
    feed_feature_cache_size: int = Field(
        80_000, ge=1, description="Videos whose ranking features (behaviour and content "
        "vectors, popularity, creator) each replica keeps per training run, for every "
        "candidate of the two-stage feed (about 1.5 KB a video at 384 dimensions, the "
        "content vector in float16: 118 MB at the default). A candidate not kept costs a "
        "partition read of videos; killrvideo_feature_cache_total shows the hit rate.")
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
        0.5, ge=-1, le=1, description="Where the clustering of the recent likes cuts: the "
                                       "members of one interest are on average at least "
                                       "this similar.")
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

