"""`make eval`'s studies of the neighbour lists: EASE as the in-memory ceiling, the
just-watched source's marginal gain and sensitivity, and related videos ("watch next").

- EASE (Steck 2019): the closed-form item-item regression B = I - P diag(1/diag(P)),
  P = (X^T X + lambda I)^-1, over the training split's positive watches, in memory. Its
  lambda is chosen on this test split, so it is an optimistic ceiling, not a rival method.
- Just watched: the training job and the feed run again with FEED_JUST_WATCHED_VIDEOS at
  each value (0 turns the source and its feature off), so each row's ranking weights are
  fitted with the source as it is served.
- Related: for each user, the related videos of their last training video (the endpoint's
  service, with the user's token), scored against their held-out next videos, beside the
  content lists alone and popularity.
"""
from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, Sequence

import numpy as np
from scipy import sparse

from killrvideo_reco.bootstrap import Stores, services_on
from killrvideo_reco.domain.taste_profile import ProfileParams
from killrvideo_reco.embeddings.provider import EmbeddingProvider
from killrvideo_reco.evaluation.data import UserSplit
from killrvideo_reco.evaluation.loader import user_uuid, video_uuid
from killrvideo_reco.evaluation.methods import Catalogue, is_positive_watch
from killrvideo_reco.jobs.train import run_training
from killrvideo_reco.settings import Settings

EASE_LAMBDAS = (100.0, 300.0, 1000.0)
EASE_MIN_VIEWERS = 2  # items fewer viewers rated positively in training are left out
JUST_WATCHED_COUNTS = (0, 1, 3, 5)

Lists = dict[int, list[int]]


def ease(users: Sequence[UserSplit], params: ProfileParams, k: int,
         lambdas: Sequence[float] = EASE_LAMBDAS) -> dict[float, tuple[Lists, Lists]]:
    """Per lambda, each user's top-k unseen movies by EASE, and EASE's item-item list of
    their last training movie (its row of B: the related videos EASE would store)."""
    movies = sorted({r.movie_id for u in users for r in u.train
                     if is_positive_watch(r.rating, params)})
    column = {m: n for n, m in enumerate(movies)}
    rows, cols = [], []
    for n, u in enumerate(users):
        for r in u.train:
            if is_positive_watch(r.rating, params):
                rows.append(n)
                cols.append(column[r.movie_id])
    x = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(users), len(movies)))
    x.data[:] = 1.0  # a repeated positive counts once
    kept = np.flatnonzero(np.asarray(x.sum(axis=0)).ravel() >= EASE_MIN_VIEWERS)
    position = {int(c): n for n, c in enumerate(kept)}
    x = x[:, kept]
    gram = (x.T @ x).toarray()
    out: dict[float, tuple[Lists, Lists]] = {}
    for lam in lambdas:
        p = np.linalg.inv(gram + lam * np.eye(gram.shape[0]))
        b = -p / np.diag(p)
        np.fill_diagonal(b, 0.0)
        scores = np.asarray(x @ b)
        foryou: Lists = {}
        related: Lists = {}
        for n, u in enumerate(users):
            seen = {column[r.movie_id] for r in u.train if r.movie_id in column}
            foryou[u.user_id] = _top_unseen(scores[n], kept, movies, seen, k)
            last = column.get(u.train[-1].movie_id)
            related[u.user_id] = ([] if last is None or last not in position else
                                  _top_unseen(b[position[last]], kept, movies, seen, k))
        out[lam] = (foryou, related)
    return out


def _top_unseen(scores: np.ndarray, kept: np.ndarray, movies: list[int], seen: set[int],
                k: int) -> list[int]:
    ranked = np.argsort(-scores, kind="stable")
    return [movies[kept[i]] for i in ranked[:k + len(seen)] if kept[i] not in seen][:k]


async def just_watched(stores: Stores, settings: Settings, provider: EmbeddingProvider,
                       rank_all: Callable[..., Awaitable[Lists]],
                       counts: Sequence[int] = JUST_WATCHED_COUNTS) -> dict[int, Lists]:
    """Per FEED_JUST_WATCHED_VIDEOS value, For You after a training run fitted with it.
    The profiles are not rebuilt: training writes every viewer's vector itself."""
    out: dict[int, Lists] = {}
    for count in counts:
        varied = settings.model_copy(update={"feed_just_watched_videos": count})
        services = services_on(stores, varied, provider)
        await run_training(services, varied, progress_stream=io.StringIO(), rebuild=False)
        out[count] = await rank_all(services.feed)
    return out


async def related(stores: Stores, settings: Settings,
                  provider: EmbeddingProvider, users: Sequence[UserSplit],
                  catalogue: Catalogue, k: int) -> dict[str, Lists]:
    """The endpoint's answer for each user's last training video, and the content list."""
    services = services_on(stores, settings, provider)
    lists = services.feed.neighbours
    served: Lists = {}
    content: Lists = {}
    for u in users:
        last = u.train[-1].movie_id
        found = await services.related.related(video_uuid(last), k, user_uuid(u.user_id))
        served[u.user_id] = [catalogue.movie_of[r.summary.video_id] for r in found]
        if lists is not None:
            neighbours = await lists.lists_of([(video_uuid(last), catalogue.vector(last))],
                                              provider.model_id)
            seen = {r.movie_id for r in u.train}
            content[u.user_id] = [m for v in neighbours[video_uuid(last)].video_ids
                                  if (m := catalogue.movie_of.get(v)) is not None
                                  and m not in seen][:k]
    return {"served": served, "content": content}
