"""The recommenders compared. Each returns one user's top-k movie ids, best first.

The For You method is FeedService.for_you itself: the pipeline over the content space
before the first training run, the two-stage feed after it. The other vector methods call
the same stores outside FeedService (VideoStore.nearest, BehaviourStore.nearest,
ViewerStore.seen_among) with the feed's exclusion rules: a plain nearest-unseen search.
Popularity and latest rank in memory and exclude the user's training watches, which are
exactly the rows of viewer_history that seen_among would find.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from killrvideo_reco.domain import feed_rules
from killrvideo_reco.domain.behaviour import viewer_query
from killrvideo_reco.domain.models import BehaviourRun, Candidate
from killrvideo_reco.domain.taste_profile import ProfileParams
from killrvideo_reco.evaluation.data import UserSplit, watch_for_rating
from killrvideo_reco.evaluation.loader import user_uuid, video_uuid
from killrvideo_reco.evaluation.nearest_unseen import nearest_unseen
from killrvideo_reco.service.feed import FeedService
from killrvideo_reco.service.ports import BehaviourRepository, VideoRepository, ViewerRepository
from killrvideo_reco.settings import Settings

SEEDS = 5  # item-to-item: the last N positive watches
BEHAVIOUR_HORIZON = 100  # ANN rows of the behaviour-only method (the feed's default)


@dataclass
class Catalogue:
    movie_ids: list[int]
    vectors: np.ndarray          # unit rows, in movie_ids order
    popularity: dict[int, int]   # training ratings per movie

    def __post_init__(self) -> None:
        self.row = {m: i for i, m in enumerate(self.movie_ids)}
        self.movie_of = {video_uuid(m): m for m in self.movie_ids}
        # Ties broken by movie id so every run ranks the same way.
        self.popular = sorted(self.movie_ids, key=lambda m: (-self.popularity.get(m, 0), m))
        self.latest = sorted(self.movie_ids, reverse=True)  # higher movieId = added later

    def vector(self, movie_id: int) -> np.ndarray:
        return self.vectors[self.row[movie_id]]


def _top_unseen(ordered: list[int], user: UserSplit, k: int) -> list[int]:
    seen = {r.movie_id for r in user.train}
    out = []
    for movie_id in ordered:
        if movie_id not in seen:
            out.append(movie_id)
            if len(out) == k:
                break
    return out


def is_positive_watch(rating: float, params: ProfileParams) -> bool:
    """Positive as the profile counts it: completion at or above the bounce threshold."""
    return watch_for_rating(rating)[0] >= params.bounce_threshold


class Recommenders:
    def __init__(self, videos: VideoRepository, viewers: ViewerRepository, feed: FeedService,
                 settings: Settings, catalogue: Catalogue, params: ProfileParams, k: int = 10):
        self.videos, self.viewers, self.feed = videos, viewers, feed
        self.settings, self.catalogue, self.params, self.k = settings, catalogue, params, k

    def _movies(self, candidates: list[Candidate]) -> list[int]:
        return [self.catalogue.movie_of[c.summary.video_id] for c in candidates]

    async def for_you(self, user: UserSplit, feed: FeedService | None = None
                      ) -> tuple[list[int], str]:
        page = await (feed or self.feed).for_you(user_uuid(user.user_id), 1, self.k)
        return [self.catalogue.movie_of[i.summary.video_id] for i in page.items], page.source

    def popularity(self, user: UserSplit) -> list[int]:
        return _top_unseen(self.catalogue.popular, user, self.k)

    def latest(self, user: UserSplit) -> list[int]:
        return _top_unseen(self.catalogue.latest, user, self.k)

    async def ann_unseen(self, user: UserSplit, vector: np.ndarray, needed: int) -> list[Candidate]:
        """The plain nearest-unseen search (evaluation/nearest_unseen.py) for any vector."""
        return await nearest_unseen(self.videos, self.viewers, user_uuid(user.user_id), vector,
                                    needed, self.settings.feed_similarity_floor,
                                    self.settings.feed_max_ann_limit)

    async def mean_vector(self, user: UserSplit) -> list[int]:
        """Unweighted mean of every training watch (bounces included), no decay."""
        mean = np.mean([self.catalogue.vector(r.movie_id) for r in user.train], axis=0)
        norm = float(np.linalg.norm(mean))
        if norm < 1e-9:
            return []
        fresh = await self.ann_unseen(user, (mean / norm).astype(np.float32), self.k)
        return self._movies(fresh[:self.k])

    async def item_to_item(self, user: UserSplit) -> dict[str, list[int]]:
        """Neighbours of the last SEEDS positive watches; a candidate's score is its max
        (or summed) cosine over the seeds. Returns both aggregations."""
        seeds = [r for r in user.train if is_positive_watch(r.rating, self.params)][-SEEDS:]
        best: dict[int, float] = {}
        total: dict[int, float] = {}
        for seed in seeds:
            for c in await self.ann_unseen(user, self.catalogue.vector(seed.movie_id), self.k):
                m = self.catalogue.movie_of[c.summary.video_id]
                best[m] = max(best.get(m, -2.0), c.score)
                total[m] = total.get(m, 0.0) + c.score
        rank = lambda scores: sorted(scores, key=lambda m: (-scores[m], m))[:self.k]  # noqa: E731
        return {"max": rank(best), "sum": rank(total)}

    async def profile_vector(self, user: UserSplit) -> np.ndarray | None:
        """The stored preference vector, when the feed would use it."""
        prefs, model = await self.viewers.profile(user_uuid(user.user_id)), \
            await self.videos.catalogue_model()
        return feed_rules.usable_profile(prefs, model, self.settings.vector_dimension).vector

    async def profile_ann(self, user: UserSplit) -> list[int] | None:
        """The stored profile's ANN top k, unseen (the plain search): what `exact`
        checks the index against. None when the user has no usable profile."""
        vector = await self.profile_vector(user)
        if vector is None:
            return None
        return self._movies((await self.ann_unseen(user, vector, self.k))[:self.k])

    async def exact(self, user: UserSplit) -> list[int] | None:
        """Brute-force top k of the stored profile over the whole catalogue (numpy), to
        measure what the ANN index loses. None when the user has no profile."""
        vector = await self.profile_vector(user)
        if vector is None:
            return None
        scores = self.catalogue.vectors @ vector
        scores[[self.catalogue.row[r.movie_id] for r in user.train]] = -np.inf
        top = np.argsort(-scores, kind="stable")[:self.k]
        return [self.catalogue.movie_ids[i] for i in top]

    async def behaviour_only(self, user: UserSplit, behaviour: BehaviourRepository,
                             run: BehaviourRun) -> list[int]:
        """The stored behaviour vector alone: its ANN neighbours, unseen, best first."""
        uid = user_uuid(user.user_id)
        profile = await self.viewers.profile(uid)
        vector = profile.behaviour_in(run) if profile else None
        query = viewer_query(vector, run) if vector is not None else None
        if query is None:
            return []
        found = await behaviour.nearest(run, "behaviour", query, None, BEHAVIOUR_HORIZON)
        seen = await self.viewers.seen_among(uid, [c.video_id for c in found])
        return [self.catalogue.movie_of[c.video_id] for c in found
                if c.video_id not in seen][:self.k]
