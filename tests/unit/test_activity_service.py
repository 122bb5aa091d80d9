"""ActivityService against in-memory stores: idempotent events, conflict retries, hides."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import numpy as np

from killrvideo_reco.domain.errors import StoreUnavailable
from killrvideo_reco.domain.models import NewVideo
from killrvideo_reco.domain.taste_profile import ProfileParams
from killrvideo_reco.service.activity import ActivityService
from tests.fakes import FakeVideoStore, FakeViewerStore

DIM = 6
MODEL = "test-model"


def world(count: int = 6):
    videos, viewers = FakeVideoStore(), FakeViewerStore()
    rng = np.random.default_rng(3)
    ids = []
    for n in range(count):
        vector = rng.normal(size=DIM).astype(np.float32)
        video = NewVideo(uuid.uuid4(), uuid.uuid4(), f"video {n}", "", (), None,
                         datetime.now(timezone.utc), None, 600, vector, MODEL)
        asyncio.run(videos.add(video))
        ids.append(video.video_id)
    videos.model = MODEL
    params = ProfileParams(min_positive_videos=1)
    return videos, viewers, ActivityService(videos, viewers, params, DIM), ids, params


def test_a_retried_event_id_counts_once():
    videos, viewers, activity, ids, _ = world()
    user = uuid.uuid4()

    first = asyncio.run(activity.record_view(user, ids[0], "evt-1", 300, 600))
    again = asyncio.run(activity.record_view(user, ids[0], "evt-1", 300, 600))
    other = asyncio.run(activity.record_view(user, ids[0], "evt-2", 100, 600))

    assert (first.duplicate, again.duplicate, other.duplicate) == (False, True, False)
    assert (again.play_count, other.play_count) == (1, 2)
    assert other.seconds_watched == 400
    assert sum(viewers.totals.values()) == 2, "the duplicate is not counted as a view"


def test_a_concurrent_commit_makes_the_view_retry_and_both_land():
    videos, viewers, activity, ids, params = world()
    user = uuid.uuid4()

    # Another replica (its own in-process locks) commits between our read and our write.
    other_replica = ActivityService(videos, viewers, params, activity.dimension, activity.runs)

    async def concurrent_writer():
        await other_replica.record_view(user, ids[1], "other-client", 500, 600)

    viewers.before_commit = concurrent_writer
    asyncio.run(activity.record_view(user, ids[0], "this-client", 500, 600))

    rows = {r.video_id: r for r in asyncio.run(viewers.history(user))}
    assert set(rows) == {ids[0], ids[1]}
    assert viewers.commits == 2, "the stale attempt was refused, then retried"
    online = asyncio.run(activity.taste(user))
    assert online.positive_count() == 2

    async def rebuilt():
        await activity.rebuild(user, MODEL)
        return viewers.tastes[user].state

    batch = asyncio.run(rebuilt())
    np.testing.assert_allclose(online.preference_vector(params),
                               batch.preference_vector(params), atol=1e-6)


def test_hide_then_unhide_leaves_nothing_seen():
    videos, viewers, activity, ids, _ = world()
    user = uuid.uuid4()

    assert asyncio.run(activity.set_hidden(user, ids[2], True)) is True
    assert asyncio.run(activity.set_hidden(user, ids[2], True)) is False, "already hidden"
    assert asyncio.run(viewers.seen_among(user, ids)) == {ids[2]}
    assert asyncio.run(activity.set_hidden(user, ids[2], False)) is True
    assert asyncio.run(viewers.seen_among(user, ids)) == set()


def test_online_profile_equals_batch_rebuild_over_many_events():
    videos, viewers, activity, ids, params = world(count=6)
    user = uuid.uuid4()
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)

    async def run():
        for n, video_id in enumerate(ids):
            await activity.record_view(user, video_id, f"e{n}", 50 + 100 * n, 600,
                                       start + timedelta(days=n))
        await activity.set_hidden(user, ids[0], True)
        online = viewers.profiles[user][1].preference_vector
        commits = viewers.commits
        assert await activity.rebuild(user, MODEL) is True
        assert viewers.commits == commits + 1, "the rebuild committed a state"
        return online, viewers.profiles[user][1].preference_vector

    online, batch = asyncio.run(run())
    assert online is not None
    np.testing.assert_allclose(online, batch, atol=1e-6)


def test_a_burst_for_one_viewer_commits_as_a_group_instead_of_retrying():
    videos, viewers, activity, ids, _ = world()
    user = uuid.uuid4()

    async def burst():
        first = await activity.record_view(user, ids[0], "e0", 300, 600)
        rest = await asyncio.gather(*(activity.record_view(user, ids[n % len(ids)], f"e{n}",
                                                           300, 600) for n in range(20)))
        return [first, *rest]

    outcomes = asyncio.run(burst())
    assert outcomes[1].duplicate and not any(o.duplicate for o in outcomes[2:]), \
        "a retried event id counts once, in a group too"
    assert (viewers.commits, viewers.refused) == (2, 0), "one commit for the burst, no race"
    rows = asyncio.run(viewers.history(user))
    assert sum(r.play_count for r in rows) == 20
    assert set().union(*(r.event_ids for r in rows)) == {f"e{n}" for n in range(20)}
    assert len(activity._commits) == 0, "nothing is left in flight"
    online = viewers.profiles[user][1].preference_vector
    assert asyncio.run(activity.rebuild(user, MODEL))
    np.testing.assert_allclose(online, viewers.profiles[user][1].preference_vector, atol=1e-6)


def test_a_view_whose_counter_write_failed_is_not_counted_again_on_retry():
    # Cassandra counters are not idempotent. A counter write that timed out was, in the
    # node-loss test, always applied by the coordinator's own replica (it leads counter
    # writes), so the retry must not count it again (docs/operations.md, "Node loss").
    videos, viewers, activity, ids, _ = world()
    user = uuid.uuid4()
    count_views = viewers.count_views

    async def applied_then_timed_out(counts):
        viewers.count_views = count_views
        await count_views(counts)
        raise StoreUnavailable("WriteTimeout: replication timed out")

    viewers.count_views = applied_then_timed_out
    try:
        asyncio.run(activity.record_view(user, ids[0], "evt-1", 300, 600))
        raise AssertionError("the failure must reach the client, who retries")
    except StoreUnavailable:
        pass
    retry = asyncio.run(activity.record_view(user, ids[0], "evt-1", 300, 600))
    assert retry.duplicate and retry.play_count == 1
    assert sum(viewers.totals.values()) == 1, "counted once"


def test_an_unreadable_taste_state_is_rebuilt_from_history():
    from killrvideo_reco.domain.models import TasteRecord

    videos, viewers, activity, ids, params = world()
    user = uuid.uuid4()
    for n in range(4):
        asyncio.run(activity.record_view(user, ids[n], f"e{n}", 500, 600))
    before = asyncio.run(activity.taste(user)).preference_vector(params)
    record = viewers.tastes[user]
    viewers.tastes[user] = TasteRecord(record.version, None, record.model_id)  # damaged
    asyncio.run(activity.record_view(user, ids[4], "e4", 500, 600))
    after = viewers.tastes[user].state
    assert after.positive_count() == 5, "the four earlier likes came back from history"
    assert before is not None
