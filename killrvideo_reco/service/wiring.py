"""Builds the stores and services from settings: shared by the HTTP app and the jobs."""
from __future__ import annotations

from dataclasses import dataclass

from cassandra.cluster import Cluster, Session

from killrvideo_reco.domain.taste_profile import ProfileParams
from killrvideo_reco.embeddings.provider import EmbeddingProvider
from killrvideo_reco.service.activity import ActivityService
from killrvideo_reco.service.catalogue import CatalogueService
from killrvideo_reco.service.feed import FeedService
from killrvideo_reco.settings import Settings
from killrvideo_reco.store.connection import connect
from killrvideo_reco.store.videos import VideoStore
from killrvideo_reco.store.viewers import ViewerStore


def profile_params(settings: Settings) -> ProfileParams:
    return ProfileParams(
        half_life_days=settings.profile_half_life_days,
        bounce_threshold=settings.profile_bounce_threshold,
        bounce_weight=settings.profile_bounce_weight,
        hidden_weight=settings.profile_hidden_weight,
        completion_cap=settings.profile_completion_cap,
        channel_saturation=settings.profile_channel_saturation,
        min_positive_videos=settings.profile_min_positive_videos,
        default_duration_s=settings.profile_default_duration_s)


@dataclass
class AppResources:
    cluster: Cluster
    session: Session
    videos: VideoStore
    viewers: ViewerStore
    feed: FeedService
    activity: ActivityService
    catalogue: CatalogueService


def build_resources(settings: Settings, embedder: EmbeddingProvider) -> AppResources:
    cluster, session = connect(settings)
    try:
        videos = VideoStore(session, settings.cassandra_keyspace)
        viewers = ViewerStore(session, settings.cassandra_keyspace)
    except Exception:
        cluster.shutdown()
        raise
    feed = FeedService(videos, viewers, settings)
    activity = ActivityService(videos, viewers, profile_params(settings),
                               settings.vector_dimension)
    catalogue = CatalogueService(videos, embedder, settings.vector_dimension)
    return AppResources(cluster, session, videos, viewers, feed, activity, catalogue)
