"""Adding and reading videos; embeds title + description + tags when no vector is given,
and places a new video in the live behaviour space through the run's content map, so it
can be recommended before anyone has watched it."""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone

import numpy as np

from killrvideo_reco.domain.behaviour import index_vectors
from killrvideo_reco.domain.models import NewVideo, VideoDetails
from killrvideo_reco.domain.vectors import checked_vector
from killrvideo_reco.embeddings.provider import EmbeddingProvider, video_text
from killrvideo_reco.service.neighbours import ContentNeighbours
from killrvideo_reco.service.ports import BehaviourRepository, VideoRepository
from killrvideo_reco.service.runs import LiveRun

log = logging.getLogger(__name__)


class CatalogueService:
    def __init__(self, videos: VideoRepository, embedder: EmbeddingProvider, dimension: int,
                 behaviour: BehaviourRepository | None = None, runs: LiveRun | None = None,
                 neighbours: ContentNeighbours | None = None):
        self.videos, self.embedder, self.dimension = videos, embedder, dimension
        self.behaviour, self.runs, self.neighbours = behaviour, runs, neighbours
        self._model_recorded = False

    async def add_video(self, uploader_id: uuid.UUID, title: str, description: str,
                        tags: Sequence[str], thumbnail_url: str | None, category: str | None,
                        duration_s: int | None,
                        content_features: Sequence[float] | None) -> NewVideo:
        if content_features is not None:
            vector = checked_vector(content_features, self.dimension)
        else:
            text = video_text(title, description, tags)
            # The model runs on CPU for tens of ms: keep it off the event loop.
            embedded = await asyncio.to_thread(self.embedder.embed, [text])
            vector = checked_vector(np.asarray(embedded[0]), self.dimension)
        video = NewVideo(uuid.uuid4(), uploader_id, title, description,
                         tuple(sorted(set(tags))), thumbnail_url, datetime.now(timezone.utc),
                         category, duration_s, vector, self.embedder.model_id)
        await self.videos.add(video)
        await self._place_in_behaviour_space(video)
        await self._list_neighbours(video)
        if not self._model_recorded:
            await self.ensure_catalogue_model()
        return video

    async def _place_in_behaviour_space(self, video: NewVideo) -> None:
        if self.runs is None or self.behaviour is None:
            return
        run = await self.runs.get()
        content_map = self.runs.content_map(run) if run else None
        if run is None or content_map is None:
            return  # no training yet: the video is found through the content space
        predicted = content_map.predict(video.content_features)
        await self.behaviour.write_video(run.slot, run.run_id, video.video_id,
                                         index_vectors(predicted, run.max_norm)[0])

    async def _list_neighbours(self, video: NewVideo) -> None:
        """Its content neighbour list, for when it becomes a viewer's interest. Not worth
        failing an upload for: the feed computes a missing list on first use."""
        if self.neighbours is None or self.neighbours.size == 0:
            return
        try:
            await self.neighbours.compute(video.video_id, video.content_features,
                                          video.embedding_model)
        except Exception as error:
            log.warning("video %s: neighbour list not computed at upload (%s); it will be "
                        "on first use", video.video_id, error)

    async def ensure_catalogue_model(self) -> None:
        """Record which model the catalogue uses, the first time (reembed changes it)."""
        if await self.videos.catalogue_model() is None:
            await self.videos.set_catalogue_model(self.embedder.model_id)
        self._model_recorded = True

    async def get_video(self, video_id: uuid.UUID) -> VideoDetails | None:
        return await self.videos.details(video_id)
