"""In-memory ExperimentRepository: experiments by id, counters in dicts."""
from __future__ import annotations


class FakeExperimentStore:
    def __init__(self):
        self.experiments = {}
        self.viewer_counts: dict[tuple, list[int]] = {}
        self.request_counts: dict[tuple, int] = {}

    async def save(self, experiment):
        self.experiments[experiment.experiment_id] = experiment

    async def all(self):
        return list(self.experiments.values())

    async def get(self, experiment_id):
        return self.experiments.get(experiment_id)

    async def add_viewer(self, experiment_id, variant, user_id, impressions, clicks,
                         watch_seconds):
        counts = self.viewer_counts.setdefault((experiment_id, variant, user_id), [0, 0, 0])
        for n, value in enumerate((impressions, clicks, watch_seconds)):
            counts[n] += value

    async def viewers(self, experiment_id):
        return [(variant, user, *counts) for (e, variant, user), counts
                in self.viewer_counts.items() if e == experiment_id]

    async def add_requests(self, experiment_id, variant, increments):
        for metric, value in increments.items():
            key = (experiment_id, variant, metric)
            self.request_counts[key] = self.request_counts.get(key, 0) + value

    async def requests(self, experiment_id):
        found: dict[str, dict[str, int]] = {}
        for (e, variant, metric), value in self.request_counts.items():
            if e == experiment_id:
                found.setdefault(variant, {})[metric] = value
        return found
