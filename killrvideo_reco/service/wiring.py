"""The composition root: builds the stores and services from settings, shared by the HTTP
app and the jobs. Services take store interfaces, so tests can wire in-memory fakes."""
from __future__ import annotations

from dataclasses import dataclass

from killrvideo_reco.domain.taste_profile import ProfileParams
from killrvideo_reco.embeddings.provider import EmbeddingProvider
from killrvideo_reco.service.activity import ActivityService
from killrvideo_reco.service.catalogue import CatalogueService
from killrvideo_reco.service.feed import FeedService
from killrvideo_reco.service.job_registry import JobPolicy
from killrvideo_reco.service.privacy import PrivacyService
from killrvideo_reco.service.ports import BehaviourRepository, VideoRepository, ViewerRepository
from killrvideo_reco.service.runs import LiveRun
from killrvideo_reco.service.ttl_cache import KeyedTtlCache
from killrvideo_reco.settings import Settings
from killrvideo_reco.store.behaviour import BehaviourStore
from killrvideo_reco.store.connection import Database
from killrvideo_reco.store.jobs import JobStore
from killrvideo_reco.store.metadata import MetadataStore
from killrvideo_reco.store.videos import VideoStore
from killrvideo_reco.store.viewers import ViewerStore


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


@dataclass
class Services:
    videos: VideoRepository
    viewers: ViewerRepository
    behaviour: BehaviourRepository | None
    runs: LiveRun | None
    feed: FeedService
    activity: ActivityService
    catalogue: CatalogueService
    privacy: PrivacyService


def build_services(videos: VideoRepository, viewers: ViewerRepository, settings: Settings,
                   embedder: EmbeddingProvider,
                   behaviour: BehaviourRepository | None = None) -> Services:
    runs = LiveRun(behaviour, settings.feed_cache_ttl_s) if behaviour else None
    return Services(
        videos, viewers, behaviour, runs, FeedService(videos, viewers, settings, behaviour, runs),
        ActivityService(videos, viewers, profile_params(settings), settings.vector_dimension,
                        runs, KeyedTtlCache(settings.feed_cache_ttl_s,
                                            settings.view_facts_cache_size)),
        CatalogueService(videos, embedder, settings.vector_dimension, behaviour, runs),
        PrivacyService(videos, viewers))


@dataclass
class AppResources(Services):
    database: Database
    metadata: MetadataStore
    jobs: JobStore

    def close(self) -> None:
        self.database.close()


def build_resources(settings: Settings, embedder: EmbeddingProvider) -> AppResources:
    database = Database(settings)
    try:
        session, keyspace = database.session, settings.cassandra_keyspace
        videos, viewers = VideoStore(session, keyspace), ViewerStore(session, keyspace)
        metadata = MetadataStore(session, keyspace)
        behaviour = BehaviourStore(session, keyspace)
        jobs = JobStore(session, keyspace)
    except Exception:
        database.close()
        raise
    services = build_services(videos, viewers, settings, embedder, behaviour)
    return AppResources(**vars(services), database=database, metadata=metadata, jobs=jobs)
