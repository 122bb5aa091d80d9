"""Video facts for the view path, through the process's facts cache: popular videos are
viewed many times a second, so their facts are read once per TTL. Also resolves the
references (recent likes, interest medoids) of a stored taste head and of the read model
the feed reads to the videos' vectors, through one reference cache."""
from __future__ import annotations

import uuid
from functools import partial

from cachetools import TTLCache

from killrvideo_reco.domain.models import StoredProfile, VideoFacts
from killrvideo_reco.domain.profile_refs import resolve_profile
from killrvideo_reco.domain.taste_head import ReferencedVideo, StoredHead, applied_unit
from killrvideo_reco.domain.taste_profile import ProfileParams, TasteState
from killrvideo_reco.service.ports import VideoRepository
from killrvideo_reco.service.ttl_cache import CachedByKey


class UnknownVideo(LookupError):
    pass


async def embedded_facts(videos: VideoRepository,
                         video_ids: list[uuid.UUID]) -> dict[uuid.UUID, VideoFacts]:
    """Facts of the videos that have an embedding: all a facts cache may hold, so that no
    cache keeps a video still being embedded."""
    found = await videos.facts_many(video_ids)
    return {v: f for v, f in found.items() if f.content_features is not None}


class ViewFacts:
    def __init__(self, videos: VideoRepository,
                 cache: TTLCache[uuid.UUID, VideoFacts] | None = None,
                 references: TTLCache[tuple[uuid.UUID, str | None], ReferencedVideo] | None = None):
        self.videos, self.cache = videos, cache
        self._facts = CachedByKey(partial(embedded_facts, videos), cache)
        # (video, model) -> what resolving a reference needs. Kept longer than the facts:
        # a video's vector under one model never changes, and a head refers to videos
        # liked long ago, which the short-lived facts cache rarely holds.
        self.references = references

    async def one(self, video_id: uuid.UUID) -> VideoFacts:
        """UnknownVideo for a video the catalogue lacks or has not embedded."""
        facts = self.cache.get(video_id) if self.cache is not None else None
        if facts is None:  # one video: its own single-row read, not the batched one
            facts = await self.videos.facts(video_id)
            if facts is None or facts.content_features is None:
                raise UnknownVideo(f"no video {video_id}")
            if self.cache is not None:
                self.cache[video_id] = facts
        if (self.references is not None and facts.content_features is not None
                and (video_id, facts.embedding_model) not in self.references):
            # the viewer's next head may refer to it; normalised once, not on every view
            self._remember(video_id, facts)
        return facts

    def _remember(self, video_id: uuid.UUID, facts: VideoFacts) -> ReferencedVideo | None:
        unit = applied_unit(facts.content_features)
        if unit is None:
            return None
        found = (facts.title, unit)
        if self.references is not None:
            self.references[(video_id, facts.embedding_model)] = found
        return found

    async def many(self, video_ids: list[uuid.UUID]) -> dict[uuid.UUID, VideoFacts]:
        """The embedded videos among `video_ids`; the cache's misses in one read."""
        return await self._facts.get_many(video_ids)

    async def referenced(self, video_ids: list[uuid.UUID],
                         model_id: str | None) -> dict[uuid.UUID, ReferencedVideo]:
        """Title and applied vector of the referenced videos still embedded with
        `model_id`."""
        known = self.references
        videos: dict[uuid.UUID, ReferencedVideo] = {}
        for video_id in video_ids:
            hit = known.get((video_id, model_id)) if known is not None else None
            if hit is not None:
                videos[video_id] = hit
        missing = [v for v in video_ids if v not in videos]
        if missing:
            for video_id, f in (await self.many(missing)).items():
                if f.embedding_model == model_id and f.content_features is not None:
                    found = self._remember(video_id, f)
                    if found is not None:
                        videos[video_id] = found
        return videos

    async def resolve(self, head: StoredHead, model_id: str | None,
                      params: ProfileParams) -> TasteState:
        """The head's state with its recent likes' and medoids' vectors: those of the
        referenced videos still embedded with the state's model (taste_head.py says what
        becomes of the others)."""
        return head.resolve(await self.referenced(head.references(), model_id), params)

    async def resolve_profile(self, profile: StoredProfile | None,
                              dimension: int) -> StoredProfile | None:
        """The read model with its recent likes and interests resolved (profile_refs.py)."""
        if profile is None or profile.resolved():
            return profile
        videos = await self.referenced(profile.references.videos(), profile.model_id)
        return resolve_profile(profile, videos, dimension)
