"""Views through the taste journal (PROFILE_JOURNAL_COMMITS): a commit appends an entry,
every n-th writes a snapshot, and a viewer's state read by any replica is the state the
commits computed."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import numpy as np

from killrvideo_reco.service.activity import ActivityService
from tests.unit.test_activity_service import DIM, MODEL, world


def views(activity, user, ids, start=0):
    at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    for n, video in enumerate(ids, start=start):
        asyncio.run(activity.record_view(user, video, f"e{n}", 100 + 50 * (n % 9), 600,
                                         at + timedelta(hours=n)))


def test_commits_append_to_the_journal_and_every_nth_writes_a_snapshot():
    videos, viewers, _, ids, params = world(count=12)
    activity = ActivityService(videos, viewers, params, DIM, journal_commits=4)
    user = uuid.uuid4()
    lengths, heads = [], []
    for n, video in enumerate(ids):
        views(activity, user, [video], start=n)
        lengths.append(len(viewers.tastes[user].journal))
        heads.append(viewers.tastes[user].state)
    # the first commit has no snapshot to append to; then 3 entries, a snapshot, ...
    assert lengths == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]
    snapshots = [n for n in range(1, 12) if heads[n] is not heads[n - 1]]
    assert snapshots == [4, 8], "the head is rewritten only at snapshots"
    assert viewers.commits == 12
    online = asyncio.run(activity.taste(user))
    assert online.positive_count() == 12
    # another replica, with none of this one's caches, reads the very same state
    other = ActivityService(videos, viewers, params, DIM, journal_commits=4)
    assert asyncio.run(other.taste(user)).to_bytes() == online.to_bytes()
    # and it equals a rebuild from history
    prefs = viewers.profiles[user][1].preference_vector
    asyncio.run(activity.rebuild(user, MODEL))
    assert viewers.tastes[user].journal == (), "a rebuild is a snapshot"
    np.testing.assert_allclose(prefs, viewers.profiles[user][1].preference_vector, atol=1e-6)


def test_a_retried_event_in_the_journal_counts_once():
    videos, viewers, activity, ids, _ = world()
    user = uuid.uuid4()
    views(activity, user, ids[:3])
    first = asyncio.run(activity.record_view(user, ids[1], "e1", 999, 600))
    assert first.duplicate and first.play_count == 1
    assert len(viewers.tastes[user].journal) == 2, "the duplicate wrote nothing"
    assert asyncio.run(activity.taste(user)).positive_count() == 3


def test_a_deleted_video_in_the_journal_rebuilds_the_state_from_history():
    videos, viewers, activity, ids, params = world()
    user = uuid.uuid4()
    views(activity, user, ids[:4])
    assert len(viewers.tastes[user].journal) == 3
    del videos.videos[ids[2]]  # a journal video, gone from the catalogue
    views(activity, user, ids[4:5], start=4)
    assert viewers.tastes[user].journal == (), "the rebuild wrote a snapshot"
    state = asyncio.run(activity.taste(user))
    assert state.positive_count() == 4, "every view but the deleted video's"
    assert {r.video_id for r in asyncio.run(viewers.history(user))} == set(ids[:5]), \
        "nothing of the history is lost"


def test_hides_and_unhides_go_through_the_journal():
    videos, viewers, activity, ids, params = world()
    user = uuid.uuid4()
    views(activity, user, ids[:3])
    assert asyncio.run(activity.set_hidden(user, ids[4], True))
    assert asyncio.run(activity.set_hidden(user, ids[5], True))
    assert asyncio.run(activity.set_hidden(user, ids[4], False))
    assert len(viewers.tastes[user].journal) == 5
    state = asyncio.run(activity.taste(user))
    assert (state.positive_count(), state.negative_count) == (3, 1)
    online = viewers.profiles[user][1].preference_vector
    asyncio.run(activity.rebuild(user, MODEL))
    np.testing.assert_allclose(online, viewers.profiles[user][1].preference_vector, atol=1e-6)


def test_a_kept_state_skips_the_replay_and_is_never_used_stale():
    videos, viewers, _, ids, params = world(count=8)
    reads: list[list[uuid.UUID]] = []
    original = videos.facts_many

    async def counted(video_ids):
        reads.append(list(video_ids))
        return await original(video_ids)
    videos.facts_many = counted
    kept = ActivityService(videos, viewers, params, DIM, kept_states=10)
    other = ActivityService(videos, viewers, params, DIM)  # another replica, keeps none
    user = uuid.uuid4()
    heads = []
    read_head = viewers.read_for_change

    async def counted_heads(*args):
        heads.append(args[0])
        return await read_head(*args)
    viewers.read_for_change = counted_heads
    views(kept, user, ids[:4])
    assert reads == [], "no facts cache, yet no replay read: the state was kept"
    assert len(heads) == 1, "only the first view read the head: the others started from "\
        "the kept state, reading the rows alone"
    views(other, user, ids[4:5], start=4)
    assert reads, "the other replica replayed the journal from the facts"
    reads.clear()
    refused = viewers.refused
    views(kept, user, ids[5:6], start=5)  # the version moved: the kept state is stale
    assert viewers.refused == refused + 1, "its conditional write was refused"
    assert reads, "then the commit was retried from the store, replaying the journal"
    assert asyncio.run(kept.taste(user)).to_bytes() == asyncio.run(other.taste(user)).to_bytes()
    assert asyncio.run(kept.taste(user)).positive_count() == 6
    online = viewers.profiles[user][1].preference_vector
    asyncio.run(kept.rebuild(user, MODEL))
    np.testing.assert_allclose(online, viewers.profiles[user][1].preference_vector, atol=1e-6)


def test_commits_are_counted_by_what_they_wrote_and_where_they_started():
    from prometheus_client import REGISTRY

    def count(name, label, value):
        return REGISTRY.get_sample_value(name, {label: value}) or 0.0

    def commits(kind):
        return count("killrvideo_taste_commits_total", "kind", kind)

    def kept(result):
        return count("killrvideo_taste_kept_states_total", "result", result)

    videos, viewers, _, ids, params = world(count=6)
    before = {k: commits(k) for k in ("journal", "snapshot", "rebuild")}
    starts = {k: kept(k) for k in ("used", "absent", "stale")}
    activity = ActivityService(videos, viewers, params, DIM, journal_commits=3, kept_states=10)
    other = ActivityService(videos, viewers, params, DIM, journal_commits=3)
    user = uuid.uuid4()
    views(activity, user, ids[:4])      # snapshot, journal, journal, snapshot
    views(other, user, ids[4:5], start=4)  # journal, read from the store
    views(activity, user, ids[5:6], start=5)  # kept but stale: refused, then a journal entry
    asyncio.run(activity.rebuild(user, MODEL))
    assert {k: commits(k) - v for k, v in before.items()} == \
        {"journal": 4, "snapshot": 2, "rebuild": 1}
    assert {k: kept(k) - v for k, v in starts.items()} == {"used": 3, "absent": 3, "stale": 1}
