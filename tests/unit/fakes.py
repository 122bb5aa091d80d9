"""In-memory stores with the behaviour the services rely on (conditional commits, exact
nearest-neighbour search, seen lookups), so services are unit-tested without Cassandra."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timezone

import numpy as np

from killrvideo_reco.domain.models import (Candidate, HistoryRow, NewVideo, RecentVideo,
                                           StoredProfile, TasteChange, TasteRecord,
                                           VideoDetails, VideoFacts, VideoSummary)


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


class FakeViewerStore:
    def __init__(self):
        self.rows: dict[uuid.UUID, dict[uuid.UUID, HistoryRow]] = {}
        self.tastes: dict[uuid.UUID, TasteRecord] = {}
        self.profiles: dict[uuid.UUID, tuple[int, StoredProfile]] = {}
        self.views: dict[tuple[date, uuid.UUID], int] = {}
        self.commits = 0
        self.refused = 0  # conditional writes that lost a race
        # Called just before a commit is checked: lets a test slip in a concurrent writer.
        self.before_commit = None

    async def seen_among(self, user_id, video_ids):
        mine = self.rows.get(user_id, {})
        return {v for v in video_ids if v in mine}

    async def history_row(self, user_id, video_id, for_update=False):
        return self.rows.get(user_id, {}).get(video_id)

    async def history(self, user_id, for_update=False):
        return list(self.rows.get(user_id, {}).values())

    async def taste_state(self, user_id, for_update=False):
        record = self.tastes.get(user_id, TasteRecord())
        await asyncio.sleep(0)  # a real read yields before it answers: writers interleave
        return record

    async def commit(self, change: TasteChange) -> bool:
        if self.before_commit:
            hook, self.before_commit = self.before_commit, None
            await hook()
        if self.tastes.get(change.user_id, TasteRecord()).version != change.expected_version:
            self.refused += 1
            return False
        self.commits += 1
        self.tastes[change.user_id] = TasteRecord(change.new_version, change.state,
                                                  change.model_id)
        if change.row is not None:
            rows = self.rows.setdefault(change.user_id, {})
            old = rows.get(change.row.video_id)
            events = (old.event_ids if old else frozenset()) | (
                {change.event_id} if change.event_id else set())
            row = replace(change.row, event_ids=frozenset(events))
            if row.play_count == 0 and row.hidden_at is None:
                rows.pop(row.video_id, None)  # an un-hidden, never-watched row goes away
            else:
                rows[row.video_id] = row
        return True

    async def write_profile(self, user_id, vector, model_id, item_count,
                            recent_positive: Sequence[RecentVideo], version, behaviour=None,
                            interests=()):
        current = self.profiles.get(user_id)
        if current is None or current[0] < version:  # USING TIMESTAMP: newest wins
            slots = dict(current[1].behaviour) if current else {}
            if behaviour is not None:
                slots[behaviour[0]] = (behaviour[1], behaviour[2])
            self.profiles[user_id] = (version, StoredProfile(
                vector, model_id, item_count, tuple(recent_positive), slots, tuple(interests)))

    async def profile(self, user_id):
        found = self.profiles.get(user_id)
        return found[1] if found else None

    async def count_view(self, video_id, day):
        self.views[(day, video_id)] = self.views.get((day, video_id), 0) + 1

    async def total_views(self, video_ids):
        totals: dict = {}
        for (_, video), n in self.views.items():
            if video in video_ids:
                totals[video] = totals.get(video, 0) + n
        return totals

    async def views_on(self, day):
        return [(v, n) for (d, v), n in self.views.items() if d == day]

    async def users_in_token_range(self, start, end):
        return list(self.rows) if start < 0 <= end else []

    def watch(self, user_id, video_id, at: datetime | None = None):
        """Seed a watched row directly (as tests/integration/seeding.py does)."""
        at = at or datetime.now(timezone.utc)
        self.rows.setdefault(user_id, {})[video_id] = HistoryRow(video_id, at, at, 1, 300.0, 600.0)


class FakeBehaviourStore:
    """Exact search over in-memory index vectors of one run (slot 'a')."""

    def __init__(self, videos: FakeVideoStore, index: dict[uuid.UUID, np.ndarray],
                 popularity: dict[uuid.UUID, float]):
        self.videos, self.index, self.popularity = videos, index, popularity
        self.limits: list[tuple[str, int]] = []

    def _candidate(self, run, video_id, bq, cq, source):
        from killrvideo_reco.domain.models import FeedCandidate

        video = self.videos.videos[video_id]
        unit = (video.content_features / np.linalg.norm(video.content_features)).astype(
            np.float32)
        c = float(unit @ cq) if cq is not None else 0.0
        b = float(self.index[video_id] @ bq) if bq is not None else 0.0
        return FeedCandidate(video_id, b, c, self.popularity.get(video_id, 0.0),
                             frozenset((source,)), unit, video.uploader_id,
                             video.added_date.timestamp())

    async def nearest(self, run, space, behaviour_query, content_query, limit, ann_query=None):
        self.limits.append((space if ann_query is None else "interest", limit))
        found = [self._candidate(run, v, behaviour_query, content_query,
                                 space if ann_query is None else "interest")
                 for v in self.index]
        if space == "behaviour":
            def key(c):
                return -c.behaviour
        else:
            query = content_query if ann_query is None else ann_query
            def key(c):
                return -float(c.embedding @ query)
        return sorted(found, key=lambda c: (key(c), c.video_id.bytes))[:limit]

    async def popular_pool(self, run, video_ids):
        from killrvideo_reco.domain.models import PopularPool

        ids = tuple(v for v in video_ids if v in self.index)
        content = np.stack([self.videos.videos[v].content_features for v in ids])
        content = content / np.linalg.norm(content, axis=1, keepdims=True)
        return PopularPool(ids, np.stack([self.index[v] for v in ids]), content,
                           np.array([self.popularity.get(v, 0.0) for v in ids]),
                           tuple(self.videos.videos[v].uploader_id for v in ids),
                           tuple(self.videos.videos[v].added_date.timestamp() for v in ids))


class FakeJobStore:
    """Job records and leases as store/jobs.py keeps them: conditional status changes, and
    leases that lapse `ttl_s` after their last claim or renewal on a clock the test moves
    (`advance`). Several registries sharing one fake are several replicas."""

    def __init__(self):
        self.jobs: dict[uuid.UUID, object] = {}
        self.latest_by_kind: dict[str, uuid.UUID] = {}
        self.leases: dict[str, tuple[object, float]] = {}  # kind -> (lease, expires at)
        self.now = 0.0
        self.progress_writes = 0
        self.fail_writes = False  # every call raises, as with Cassandra away

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def _check(self) -> None:
        if self.fail_writes:
            raise ConnectionError("Cassandra unreachable (fake)")

    def _live_lease(self, kind):
        held = self.leases.get(kind)
        if held and held[1] > self.now:
            return held[0]
        self.leases.pop(kind, None)
        return None

    async def get(self, job_id):
        self._check()
        job = self.jobs.get(job_id)
        return replace(job, progress=dict(job.progress)) if job else None

    async def create(self, job):
        self._check()
        self.jobs[job.job_id] = replace(job)

    async def save_progress(self, job):
        self._check()
        self.progress_writes += 1
        stored = self.jobs[job.job_id]
        stored.progress, stored.cursor = dict(job.progress), job.cursor
        stored.heartbeat_at = job.heartbeat_at

    async def finish(self, job):
        self._check()
        if self.jobs[job.job_id].status != "running":
            return False
        self.jobs[job.job_id] = replace(job, progress=dict(job.progress))
        return True

    async def mark_interrupted(self, job_id, why):
        self._check()
        stored = self.jobs[job_id]
        if stored.status != "running":
            return False
        stored.status, stored.error = "interrupted", why
        stored.finished_at = datetime.now(timezone.utc)
        return True

    async def latest(self, kind):
        self._check()
        return self.latest_by_kind.get(kind)

    async def set_latest(self, kind, job_id):
        self._check()
        self.latest_by_kind[kind] = job_id

    async def claim_lease(self, lease, ttl_s):
        self._check()
        held = self._live_lease(lease.kind)
        if held is not None:
            return held
        self.leases[lease.kind] = (lease, self.now + ttl_s)
        return None

    async def renew_lease(self, lease, ttl_s):
        self._check()
        if self._live_lease(lease.kind) != lease:
            return False
        self.leases[lease.kind] = (lease, self.now + ttl_s)
        return True

    async def release_lease(self, lease):
        self._check()
        if self._live_lease(lease.kind) != lease:
            return False
        del self.leases[lease.kind]
        return True

    async def lease(self, kind):
        self._check()
        return self._live_lease(kind)
