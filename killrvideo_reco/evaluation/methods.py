"""The recommenders compared. Each returns one user's top-k movie ids, best first.

The For You method is FeedService.for_you itself. The two other vector methods call
the same stores outside FeedService (VideoStore.nearest, ViewerStore.seen_among) with
the feed's own candidate search (FeedService.nearest_unseen). Popularity
and latest rank in memory and exclude the user's training watches, which are exactly
the rows of viewer_history that seen_among would find.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from killrvideo_reco.domain import ranking
from killrvideo_reco.domain.models import Candidate
from killrvideo_reco.domain.taste_profile import ProfileParams
from killrvideo_reco.evaluation.data import UserSplit, watch_for_rating
from killrvideo_reco.evaluation.loader import user_uuid, video_uuid
from killrvideo_reco.service.feed import FeedService
from killrvideo_reco.settings import Settings
from killrvideo_reco.store.videos import VideoStore
from killrvideo_reco.store.viewers import ViewerStore

SEEDS = 5  # item-to-item: the last N positive watches
BLEND_POPULAR = 300  # popular movies added to the blend's candidates


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
        top = max(self.popularity.values(), default=0)
        self._log_top = math.log1p(top) or 1.0

    def vector(self, movie_id: int) -> np.ndarray:
        return self.vectors[self.row[movie_id]]

    def pop_score(self, movie_id: int) -> float:
        """log-scaled popularity in [0, 1]."""
        return math.log1p(self.popularity.get(movie_id, 0)) / self._log_top


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
    def __init__(self, videos: VideoStore, viewers: ViewerStore, feed: FeedService,
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
        """The feed's own candidate search for any query vector."""
        return await self.feed.nearest_unseen(user_uuid(user.user_id), vector, needed)

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
        return ranking.usable_profile(prefs, model, self.settings.vector_dimension).vector

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

    async def reranked(self, user: UserSplit, weights: tuple[float, ...], pools: tuple[int, ...]
                       ) -> dict[str, list[int]] | None:
        """Variants on the stored profile; None when the user has none (cold start).

        blend_<w>: (1 - w) * cosine + w * log-popularity over the profile's unseen ANN
        neighbours at the feed's widest horizon plus the BLEND_POPULAR most popular
        unseen movies (popular movies are rarely among a profile's nearest 1000).
        pool_<n>: the n most popular unseen movies re-ranked by cosine to the profile.
        """
        vector = await self.profile_vector(user)
        if vector is None:
            return None
        out = {}
        cosine = lambda movies: self.catalogue.vectors[  # noqa: E731
            [self.catalogue.row[m] for m in movies]] @ vector
        if weights:
            near = await self.ann_unseen(user, vector, self.settings.feed_max_ann_limit)
            scores = {self.catalogue.movie_of[c.summary.video_id]: c.score for c in near}
            popular = [m for m in _top_unseen(self.catalogue.popular, user, BLEND_POPULAR)
                       if m not in scores]
            if popular:
                scores.update(zip(popular, map(float, cosine(popular))))
            for w in weights:
                blended = {m: (1 - w) * c + w * self.catalogue.pop_score(m)
                           for m, c in scores.items()}
                out[f"blend_{w:g}"] = sorted(blended, key=lambda m: (-blended[m], m))[:self.k]
        for n in pools:
            popular = _top_unseen(self.catalogue.popular, user, n)
            if not popular:
                continue
            sims = cosine(popular)
            order = sorted(range(len(popular)), key=lambda i: (-float(sims[i]), popular[i]))
            out[f"pool_{n}"] = [popular[i] for i in order[:self.k]]
        return out
