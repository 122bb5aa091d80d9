"""A view's cost does not grow with the viewer's history: the bytes it writes to and
reads from Cassandra are the same for a viewer with 2,000 watched videos from 2,000
channels as for one with 20 (issue "View events at platform rates")."""
from __future__ import annotations

import asyncio
import uuid

import numpy as np
import pytest

from bench.view_bytes import one_view, seed_viewer
from killrvideo_reco.bootstrap import build_stores, services_on
from killrvideo_reco.embeddings.factory import build_provider
from tests.integration.seeding import MODEL, add_videos

pytestmark = pytest.mark.integration


def test_bytes_per_view_do_not_grow_with_the_history(cassandra):
    settings, session = cassandra
    rng = np.random.default_rng(11)
    # every video its own uploader, so every watched video is a channel of its own
    cycle = settings.profile_journal_commits
    ids = add_videos(settings, session,
                     rng.normal(size=(2000 + 2 * cycle, settings.vector_dimension)))
    stores = build_stores(session, settings.cassandra_keyspace)
    services = services_on(stores, settings, build_provider(settings))

    async def run():
        costs, means = {}, {}
        for n, fresh in ((20, ids[-cycle:]), (2000, ids[-2 * cycle:-cycle])):
            user = uuid.uuid4()
            await seed_viewer(stores.viewers, services.activity, MODEL, user, ids[:n])
            state = (await stores.viewers.taste_state(user)).state
            assert state is not None and state.positive_count() == n
            for cache in (services.activity.facts.cache, services.activity.facts.references):
                if cache is not None:  # both views resolve their references cold
                    cache.clear()
            costs[n] = await one_view(services.activity, user, fresh[0])
            rows = await stores.viewers.history(user)
            assert len(rows) == n + 1, "channel rows are not history"
            # the rest of a journal cycle: entries, then a snapshot
            rest = [await one_view(services.activity, user, v) for v in fresh[1:]]
            means[n] = sum(m.written for m in [costs[n], *rest]) / cycle
            assert (await stores.viewers.taste_state(user)).journal == ()
        return costs, means

    costs, means = asyncio.run(run())
    small, large = costs[20], costs[2000]
    print(f"\nbytes per view: 20 watched {small}; 2,000 watched {large}")
    assert small.statements == large.statements
    assert large.written <= 1.1 * small.written and large.read <= 1.1 * small.read
    # O(dimension): the head (P, N, 20 recent likes) and the read model, never the history
    per_vector = 8 * settings.vector_dimension
    assert large.written < 25 * per_vector and large.read < 25 * per_vector
    # a journal entry, not the sums: over a cycle with its snapshot, under 4 KB a view
    print(f"mean bytes written over {cycle} views: {means}")
    assert large.written < 4 * per_vector
    assert means[2000] <= 1.1 * means[20] and means[2000] <= 4096
