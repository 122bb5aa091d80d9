"""In-memory VideoRepository: exact cosine search stands in for the ANN index."""
from __future__ import annotations

import uuid

import numpy as np

from killrvideo_reco.domain.models import Candidate, NewVideo, VideoDetails, VideoFacts, VideoSummary


def summary_of(video: NewVideo) -> VideoSummary:
    return VideoSummary(video.video_id, video.title, video.thumbnail_url, video.description,
                        tuple(sorted(video.tags)), video.added_date, video.uploader_id)


class FakeVideoStore:
    def __init__(self):
        self.videos: dict[uuid.UUID, NewVideo] = {}
        self.model: str | None = None
        self.nearest_limits: list[int] = []  # every ANN LIMIT asked, in order

    async def add(self, video: NewVideo) -> None:
        self.videos[video.video_id] = video

    async def details(self, video_id):
        v = self.videos.get(video_id)
        return VideoDetails(summary_of(v), v.category, v.duration_s, v.embedding_model) if v else None

    async def facts(self, video_id):
        v = self.videos.get(video_id)
        if v is None:
            return None
        return VideoFacts(v.video_id, v.title, v.uploader_id,
                          float(v.duration_s) if v.duration_s else None, v.content_features,
                          v.embedding_model)

    async def facts_many(self, video_ids):
        return {v: f for v in video_ids if (f := await self.facts(v)) is not None}

    async def summaries(self, video_ids):
        return {v: summary_of(self.videos[v]) for v in video_ids if v in self.videos}

    async def vectors(self, video_ids):
        return {v: self.videos[v].content_features for v in video_ids if v in self.videos}

    async def nearest(self, query, limit):
        """Exact cosine search, best first, as the ANN index would answer it."""
        self.nearest_limits.append(limit)
        q = np.asarray(query, dtype=np.float64)
        q = q / np.linalg.norm(q)
        scored = []
        for v in self.videos.values():
            x = np.asarray(v.content_features, dtype=np.float64)
            scored.append(Candidate(summary_of(v), float(x @ q / np.linalg.norm(x))))
        scored.sort(key=lambda c: (-c.score, c.summary.video_id.bytes))
        return scored[:limit]

    async def latest_ids(self, limit):
        ordered = sorted(self.videos.values(), key=lambda v: v.added_date, reverse=True)
        return [v.video_id for v in ordered[:limit]]

    async def any_summaries(self, limit):
        return [summary_of(v) for v in list(self.videos.values())[:limit]]

    async def catalogue_model(self):
        return self.model

    async def set_catalogue_model(self, model_id):
        self.model = model_id

    async def set_vector(self, video_id, vector, model_id):
        video = self.videos[video_id]
        self.videos[video_id] = NewVideo(**{**vars(video), "content_features": vector,
                                            "embedding_model": model_id})

    async def count(self):
        return len(self.videos)

    async def scan_details(self):
        return [d for v in list(self.videos) if (d := await self.details(v)) is not None]
