"""In-memory behaviour space (BehaviourRepository and TrainingRepository): two slots of
per-video vectors, the training runs and the pointer to the live one."""
from __future__ import annotations

import json
import uuid

import numpy as np

from killrvideo_reco.domain.models import BehaviourRun, PopularPool, RunRecord
from killrvideo_reco.domain.ranking import FeedCandidate
from tests.fakes.videos import FakeVideoStore

LIVE = ("complete", "active")


class FakeBehaviourStore:
    """Exact search over in-memory index vectors. Built with `index` (video -> vector),
    every run sees those vectors (the unit tests' fixed run); built without, a run sees
    only what was written to its slot for it, as in Cassandra."""

    def __init__(self, videos: FakeVideoStore, index: dict[uuid.UUID, np.ndarray] | None = None,
                 popularity: dict[uuid.UUID, float] | None = None):
        self.videos = videos
        self.index = index or {}
        self.popularity = popularity or {}
        self.slots: dict[str, dict[uuid.UUID, tuple[str, np.ndarray, float]]] = {
            "a": {}, "b": {}}
        self.runs: dict[str, tuple[BehaviourRun, str]] = {}
        self.records: dict[str, tuple] = {}  # run id -> (started at, quality)
        self.active: str | None = None
        self.limits: list[tuple[str, int]] = []

    def _vectors(self, run) -> dict[uuid.UUID, tuple[np.ndarray, float]]:
        if self.index:
            return {v: (x, self.popularity.get(v, 0.0)) for v, x in self.index.items()}
        return {v: (x, pop) for v, (run_id, x, pop) in self.slots[run.slot].items()
                if run_id == run.run_id}

    def _space(self, run, space) -> dict[uuid.UUID, tuple[np.ndarray, float]]:
        """What an ANN query in `space` searches: the run's vectors in its behaviour slot;
        every video with an embedding in the content space, as in Cassandra, with a
        zero behaviour vector where the run has none."""
        vectors = self._vectors(run)
        if space == "behaviour":
            return vectors
        zero = np.zeros(run.dimension + 1, dtype=np.float32)
        return {v: vectors.get(v, (zero, 0.0)) for v, video in self.videos.videos.items()
                if video.content_features is not None}

    def _candidate(self, video_id, vector, popularity, bq, cq, source):
        video = self.videos.videos[video_id]
        unit = (video.content_features / np.linalg.norm(video.content_features)).astype(
            np.float32)
        c = float(unit @ cq) if cq is not None else 0.0
        b = float(vector @ bq) if bq is not None else 0.0
        return FeedCandidate(video_id, b, c, popularity, frozenset((source,)), unit,
                             video.uploader_id, video.added_date.timestamp())

    async def nearest(self, run, space, behaviour_query, content_query, limit, ann_query=None):
        source = space if ann_query is None else "interest"
        self.limits.append((source, limit))
        found = [self._candidate(v, x, pop, behaviour_query, content_query, source)
                 for v, (x, pop) in self._space(run, space).items()]
        if space == "behaviour":
            def key(c):
                return -c.behaviour
        else:
            query = content_query if ann_query is None else ann_query

            def key(c):
                return -float(c.embedding @ query)
        return sorted(found, key=lambda c: (key(c), c.video_id.bytes))[:limit]

    async def nearest_ids(self, run, space, query, limit):
        if space == "behaviour":
            found = await self.nearest(run, space, query, None, limit)
        else:
            found = await self.nearest(run, space, None, query, limit)
        return [c.video_id for c in found]

    async def popular_pool(self, run, video_ids):
        vectors = self._space(run, "content")
        ids = tuple(v for v in video_ids if v in vectors)
        content = np.stack([self.videos.videos[v].content_features for v in ids])
        content = content / np.linalg.norm(content, axis=1, keepdims=True)
        return PopularPool(ids, np.stack([vectors[v][0] for v in ids]), content,
                           np.array([vectors[v][1] for v in ids]),
                           tuple(self.videos.videos[v].uploader_id for v in ids),
                           tuple(self.videos.videos[v].added_date.timestamp() for v in ids))

    # --- what the training job writes ------------------------------------------------

    async def write_video(self, slot, run_id, video_id, vector, popularity=0.0):
        self.slots[slot][video_id] = (run_id, np.asarray(vector, dtype=np.float32), popularity)

    async def write_videos(self, slot, run_id, rows):
        for video_id, vector, popularity in rows:
            await self.write_video(slot, run_id, video_id, vector, float(popularity))

    async def content_vectors(self):
        found = [(v.video_id, v.content_features) for v in self.videos.videos.values()
                 if v.content_features is not None]
        if not found:
            return [], None
        return [v for v, _ in found], np.vstack([np.asarray(x, dtype=np.float32)
                                                for _, x in found])

    async def save_run(self, run, status, started_at, quality_json):
        self.runs[run.run_id] = (run, status)
        self.records[run.run_id] = (started_at, json.loads(quality_json) if quality_json else {})

    async def list_runs(self, limit):
        return sorted((RunRecord(run_id, status, self.records[run_id][0], None, run.dimension,
                                 self.records[run_id][1])
                       for run_id, (run, status) in self.runs.items()),
                      key=lambda r: r.run_id, reverse=True)[:limit]

    async def activate(self, run_id, previous):
        self.active = run_id
        self.runs[run_id] = (self.runs[run_id][0], "active")
        if previous and previous in self.runs:
            self.runs[previous] = (self.runs[previous][0], "retired")

    async def run(self, run_id):
        found = self.runs.get(run_id)
        return found[0] if found and found[1] in LIVE else None

    async def active_run(self):
        return await self.run(self.active) if self.active else None
