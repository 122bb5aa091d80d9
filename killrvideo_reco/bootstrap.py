"""The composition root: the one place that builds the Cassandra stores and hands them,
behind the ports of service/ports.py, to the services. The HTTP app, the CLI, the jobs
and the evaluation all wire through here; unit tests call build_services with fakes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from killrvideo_reco.domain.history import ViewTimeRules
from killrvideo_reco.domain.taste_profile import ProfileParams
from killrvideo_reco.embeddings.provider import EmbeddingProvider
from killrvideo_reco.service.activity import ActivityService
from killrvideo_reco.service.catalogue import CatalogueService
from killrvideo_reco.service.experiments import ExperimentService
from killrvideo_reco.service.feed import FeedService, summary_reader
from killrvideo_reco.service.impressions import ImpressionLog, ImpressionParams
from killrvideo_reco.service.job_registry import JobPolicy
from killrvideo_reco.service.neighbour_cache import neighbour_list_cache
from killrvideo_reco.service.ports import (
    ActiveRun,
    BehaviourRepository,
    ExperimentRepository,
    ImpressionRepository,
    JobRepository,
    MetadataRepository,
    NeighbourRepository,
    TrainingRepository,
    VideoRepository,
    ViewCountRepository,
    ViewerRepository,
)
from killrvideo_reco.service.privacy import PrivacyService
from killrvideo_reco.service.related import RelatedVideos
from killrvideo_reco.service.repeats import RepeatLimit, RepeatRules
from killrvideo_reco.service.runs import LiveRun
from killrvideo_reco.service.ttl_cache import ttl_cache
from killrvideo_reco.settings import Settings
from killrvideo_reco.store import schema, vector_tables
from killrvideo_reco.store.behaviour import BehaviourStore
from killrvideo_reco.store.connection import Database, Session
from killrvideo_reco.store.experiments import ExperimentStore
from killrvideo_reco.store.impressions import ImpressionStore
from killrvideo_reco.store.jobs import JobStore
from killrvideo_reco.store.metadata import MetadataStore
from killrvideo_reco.store.neighbours import NeighbourStore
from killrvideo_reco.store.vector_tables import VectorTablesStore
from killrvideo_reco.store.videos import VideoStore
from killrvideo_reco.store.view_counts import ViewCountStore
from killrvideo_reco.store.viewers import ViewerStore

SchemaError = schema.SchemaError


def job_policy(settings: Settings) -> JobPolicy:
    return JobPolicy(settings.job_lease_ttl_s, settings.job_progress_interval_s,
                     settings.job_resume_max_age_s, settings.shutdown_grace_s)


def profile_params(settings: Settings) -> ProfileParams:
    return ProfileParams(
        half_life_days=settings.profile_half_life_days,
        bounce_threshold=settings.profile_bounce_threshold,
        bounce_weight=settings.profile_bounce_weight,
        hidden_weight=settings.profile_hidden_weight,
        completion_cap=settings.profile_completion_cap,
        channel_saturation=settings.profile_channel_saturation,
        min_positive_videos=settings.profile_min_positive_videos,
        default_duration_s=settings.profile_default_duration_s,
        negative_share=settings.profile_negative_share,
        interest_count=settings.feed_interests,
        interest_similarity=settings.feed_interest_similarity)


def impression_params(settings: Settings) -> ImpressionParams:
    return ImpressionParams(settings.impression_ttl_days * 86400,
                            timedelta(hours=settings.attribution_window_h),
                            settings.impression_queue_size, settings.record_impressions,
                            settings.video_impression_buckets,
                            settings.new_viewer_max_watched,
                            settings.impression_counter_flush_s)


def repeat_rules(settings: Settings) -> RepeatRules:
    return RepeatRules(settings.feed_impression_limit,
                       timedelta(days=settings.feed_impression_window_days),
                       timedelta(minutes=settings.feed_session_gap_min),
                       settings.feed_repeat_cache_size, settings.feed_impression_pages)


def view_time_rules(settings: Settings) -> ViewTimeRules:
    return ViewTimeRules(settings.view_clock_skew_s, settings.view_earliest_watched_at)


@dataclass
class Stores:
    """Every Cassandra store on one session."""
    videos: VideoStore
    viewers: ViewerStore
    behaviour: BehaviourStore
    metadata: MetadataStore
    jobs: JobStore
    vector_tables: VectorTablesStore
    view_counts: ViewCountStore
    neighbours: NeighbourStore
    impressions: ImpressionStore
    experiments: ExperimentStore


def build_stores(session: Session, keyspace: str) -> Stores:
    behaviour = BehaviourStore(session, keyspace)
    return Stores(VideoStore(session, keyspace), ViewerStore(session, keyspace), behaviour,
                  MetadataStore(session, keyspace), JobStore(session, keyspace),
                  VectorTablesStore(session, keyspace), ViewCountStore(session, keyspace),
                  NeighbourStore(session, keyspace), ImpressionStore(session, keyspace),
                  ExperimentStore(session, keyspace))


@dataclass
class Services:
    videos: VideoRepository
    viewers: ViewerRepository
    behaviour: BehaviourRepository
    training: TrainingRepository | None
    runs: LiveRun
    feed: FeedService
    activity: ActivityService
    catalogue: CatalogueService
    privacy: PrivacyService
    related: RelatedVideos
    neighbours: NeighbourRepository | None  # training writes the behaviour lists
    impressions: ImpressionLog
    experiments: ExperimentService


def build_services(videos: VideoRepository, viewers: ViewerRepository, settings: Settings,
                   embedder: EmbeddingProvider, behaviour: BehaviourRepository,
                   training: TrainingRepository | None = None,
                   neighbours: NeighbourRepository | None = None,
                   impressions: ImpressionRepository | None = None,
                   experiments: ExperimentRepository | None = None) -> Services:
    runs = LiveRun(behaviour, settings.feed_cache_ttl_s)
    facts_cache = ttl_cache(settings.feed_cache_ttl_s, settings.view_facts_cache_size)
    summaries = summary_reader(videos, settings)
    activity = ActivityService(videos, viewers, profile_params(settings),
                               settings.vector_dimension, runs, facts_cache,
                               view_time_rules(settings),
                               ttl_cache(settings.view_reference_cache_ttl_s,
                                         settings.view_facts_cache_size),
                               journal_commits=settings.profile_journal_commits,
                               kept_states=settings.view_state_cache_size)
    lists = neighbour_list_cache(neighbours, settings) if neighbours is not None else None
    feed = FeedService(videos, viewers, settings, behaviour, runs, neighbours,
                       repeats=RepeatLimit(impressions, repeat_rules(settings)),
                       summaries=summaries, facts=activity.facts, lists=lists)

    def variant_feed(overridden: Settings, run: ActiveRun | None, popularity: bool) -> FeedService:
        return FeedService(videos, viewers, overridden, behaviour, run or runs, neighbours,
                           popularity_only=popularity,
                           repeats=RepeatLimit(impressions, repeat_rules(overridden)),
                           summaries=summaries, facts=activity.facts, lists=lists)
    impression_log = ImpressionLog(impressions, impression_params(settings), videos.count)
    return Services(
        videos, viewers, behaviour, training, runs, feed, activity,
        CatalogueService(videos, embedder, settings.vector_dimension, behaviour, runs,
                         feed.neighbours),
        PrivacyService(videos, viewers, impression_log),
        RelatedVideos(videos, viewers, feed.neighbours, runs, activity.facts, summaries),
        neighbours,
        impression_log,
        ExperimentService(experiments, training, settings, impression_log, feed, variant_feed))


def services_on(stores: Stores, settings: Settings, embedder: EmbeddingProvider) -> Services:
    return build_services(stores.videos, stores.viewers, settings, embedder, stores.behaviour,
                          stores.behaviour, stores.neighbours, stores.impressions,
                          stores.experiments)


@dataclass
class AppResources(Services):
    database: Database
    metadata: MetadataRepository
    jobs: JobRepository
    vector_tables: VectorTablesStore
    view_counts: ViewCountRepository
    expected_schema: int  # the version the schema files in cql/ reach

    def close(self) -> None:
        self.database.close()


def build_resources(settings: Settings, embedder: EmbeddingProvider) -> AppResources:
    database = Database(settings)
    try:
        stores = build_stores(database.session, settings.cassandra_keyspace)
    except Exception:
        database.close()
        raise
    services = services_on(stores, settings, embedder)
    return AppResources(**vars(services), database=database, metadata=stores.metadata,
                        jobs=stores.jobs, vector_tables=stores.vector_tables,
                        view_counts=stores.view_counts,
                        expected_schema=schema.expected_version())


def migrate(settings: Settings) -> list[str]:
    """`make schema`: apply the versioned CQL files; returns the ones applied."""
    database = Database(settings)
    try:
        return schema.apply_migrations(database.session, settings)
    finally:
        database.close()


def expected_schema_version() -> int:
    return schema.expected_version()


def prepare_vector_tables(settings: Settings) -> bool:
    """Before re-embedding (store/vector_tables.py): whether the tables were recreated."""
    database = Database(settings)
    try:
        return vector_tables.prepare_dimension(database.session, settings)
    finally:
        database.close()
