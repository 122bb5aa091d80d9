"""Bodies of the moderator endpoints behind the operator console (api/routes/operators.py):
a viewer's feed with its ranking features, their interests, the training runs and jobs."""
from __future__ import annotations

import uuid

from pydantic import Field

from killrvideo_reco.api.schemas import ApiModel, FeedItemOut, JobOut, UtcDateTime, first_position
from killrvideo_reco.domain.models import FeedItem, FeedPage, RunRecord


class RankingOut(ApiModel):
    behaviour: float = Field(description="Cosine to the viewer in the live run's behaviour space.")
    content: float = Field(description="Cosine to the viewer's taste in the content space.")
    popularity: float = Field(description="The run's log-scaled popularity.")
    just_watched: float = Field(description=(
        "Similarity in the best behaviour neighbour list of the viewer's latest positives "
        "(0 outside them)."))
    sources: list[str] = Field(description="Candidate sources that proposed it.")
    score: float = Field(description="The fitted ranking's score (what orders the feed).")


class ExplainedItemOut(FeedItemOut):
    ranking: RankingOut | None = Field(None, description=(
        "The item's ranking features and score; null for cold-start (fallback) items."))

    @classmethod
    def of_explained(cls, item: FeedItem, position: int) -> "ExplainedItemOut":
        r = item.ranking
        return cls(**FeedItemOut.of_item(item, position).model_dump(), ranking=None if r is None else
                   RankingOut(behaviour=r.behaviour, content=r.content, popularity=r.popularity,
                              just_watched=r.just_watched, sources=list(r.sources), score=r.score))


class ExplainedFeedOut(ApiModel):
    user_id: uuid.UUID
    items: list[ExplainedItemOut]
    total: int
    page: int
    page_size: int
    source: str = Field(description="personalized, trending or latest.")

    @classmethod
    def of(cls, user_id: uuid.UUID, page: FeedPage) -> "ExplainedFeedOut":
        first = first_position(page)
        return cls(user_id=user_id, items=[ExplainedItemOut.of_explained(i, first + n)
                                           for n, i in enumerate(page.items)],
                   total=page.total, page=page.page, page_size=page.page_size,
                   source=page.source)


class InterestOut(ApiModel):
    video_id: uuid.UUID = Field(description="The interest's medoid: its most typical video.")
    title: str | None = Field(description="None when the video has since been deleted.")
    importance: float = Field(description="Sum of its members' recency weights.")
    count: int = Field(description="Watched videos in it.")


class InterestsOut(ApiModel):
    user_id: uuid.UUID
    items: list[InterestOut] = Field(description="Most important first; empty without a profile.")


class RunOut(ApiModel):
    run_id: str
    status: str = Field(description="training, complete, active (the live run) or retired.")
    live: bool
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None
    dimension: int | None
    engine: str | None = Field(description="local or spark; None for runs recorded before it was.")
    model: str | None
    viewers: int | None = Field(description="Viewers in the run's hold-out.")
    positives: int | None = Field(description="Positive watches trained on.")
    ndcg_at10: float | None = Field(alias="ndcgAt10",
                                    description="Hold-out NDCG@10 of the fitted ranking.")
    ranker: dict[str, float] = Field(description="The fitted ranking weights.")

    @classmethod
    def of(cls, run: RunRecord, live_id: str | None) -> "RunOut":
        q = run.quality
        return cls(run_id=run.run_id, status=run.status, live=run.run_id == live_id,
                   started_at=run.started_at, finished_at=run.finished_at,
                   dimension=run.dimension, engine=q.get("engine"), model=q.get("model"),
                   viewers=q.get("viewers"), positives=q.get("positives"),
                   ndcg_at10=q.get("ndcg@10 ranked"), ranker=q.get("ranker") or {})


class RunsOut(ApiModel):
    live_run_id: str | None
    items: list[RunOut] = Field(description="Newest first.")


class JobsOut(ApiModel):
    items: list[JobOut] = Field(description="The latest job of each kind, newest first.")
