"""Interests: clusters of a viewer's recent likes, reclustered at each change."""
from __future__ import annotations

import uuid

import numpy as np

from killrvideo_reco.domain import interests
from killrvideo_reco.domain.taste_profile import (
    Interaction,
    ProfileParams,
    apply_change,
    apply_changes,
    build_state,
    empty_state,
)

D = 16
T0 = 1_700_000_000.0
DAY = 86400.0
P = ProfileParams()
rng = np.random.default_rng(5)
TOPICS = [rng.normal(size=D) for _ in range(3)]


def near(topic: int, spread: float = 0.25) -> np.ndarray:
    v = TOPICS[topic] / np.linalg.norm(TOPICS[topic]) + spread * rng.normal(size=D) / np.sqrt(D)
    return v / np.linalg.norm(v)


def like(topic: int, at: float) -> Interaction:
    return Interaction(uuid.uuid4(), near(topic), uuid.uuid4(), at, "watch", 600.0, 600.0)


def topic_of(interest: interests.Interest) -> int:
    return int(np.argmax([interest.medoid @ t / np.linalg.norm(t) for t in TOPICS]))


def test_two_topics_give_two_interests_weighted_by_recency():
    history = [like(0, T0 - 300 * DAY + n) for n in range(6)] + [like(1, T0 + n)
                                                                 for n in range(4)]
    found = build_state(history, P, D).interests
    assert len(found) == 2 and {topic_of(i) for i in found} == {0, 1}
    # Fewer but recent likes outweigh more but older ones.
    assert topic_of(found[0]) == 1 and found[0].importance > found[1].importance
    assert sum(i.count for i in found) == len(history)
    medoids = {i.medoid_id for i in found}
    assert medoids <= {h.video_id for h in history}  # a medoid is a video the viewer liked


def test_one_topic_gives_one_interest_and_at_most_k_are_kept():
    assert len(build_state([like(0, T0 + n) for n in range(8)], P, D).interests) == 1
    many = [like(n % 3, T0 + n) for n in range(12)]
    assert len(build_state(many, ProfileParams(interest_count=2), D).interests) == 2


def test_equally_important_clusters_at_the_cut_are_ordered_by_medoid_id():
    # Four clusters of two likes each, liked at one moment: four equal importances, so
    # the two kept are those whose medoids have the lowest ids, as when every cluster
    # got its medoid.
    far = [np.eye(D)[n] for n in range(4)]
    members = [Interaction(uuid.uuid4(), v, uuid.uuid4(), T0, "watch", 600.0, 600.0)
               for v in far for _ in range(2)]
    found = interests.cluster(members, T0, lambda age: 1.0, 2, 0.5)
    medoids = {}
    for m in members:  # each cluster's medoid: equal scores and times, so the lower id
        key = int(np.argmax(m.embedding))
        medoids[key] = min(medoids.get(key, m.video_id), m.video_id, key=lambda v: v.bytes)
    assert [i.medoid_id for i in found] == sorted(medoids.values(), key=lambda v: v.bytes)[:2]
    assert [i.importance for i in found] == [2.0, 2.0]


def test_likes_too_far_apart_to_share_an_interest_skip_the_linkage(monkeypatch):
    """If even the closest pair is below the similarity cut, every like is its own
    cluster, as linkage would find: the most recent ones are kept, and no tree is built.
    One close pair brings the linkage back."""
    calls = []
    linkage = interests.average_linkage
    monkeypatch.setattr(interests, "average_linkage",
                        lambda *a: calls.append(1) or linkage(*a))
    apart = [Interaction(uuid.uuid4(), np.eye(D)[n], uuid.uuid4(), T0 + n, "watch", 600.0,
                         600.0) for n in range(6)]
    found = interests.cluster(apart, T0 + 6, lambda age: 0.5 ** age, 3, 0.5)
    assert not calls
    assert [i.medoid_id for i in found] == [m.video_id for m in apart[::-1][:3]]
    assert [i.count for i in found] == [1, 1, 1]
    close = np.eye(D)[0] + 0.1 * np.eye(D)[1]
    pair = apart + [Interaction(uuid.uuid4(), close / np.linalg.norm(close), uuid.uuid4(),
                                T0 + 6, "watch", 600.0, 600.0)]
    found = interests.cluster(pair, T0 + 6, lambda age: 0.5 ** age, 3, 0.5)
    assert calls and sorted(i.count for i in found) == [1, 1, 2]


def test_a_view_near_an_interest_joins_it_as_a_rebuild_would():
    history = [like(0, T0 + n) for n in range(4)] + [like(1, T0 + 10 + n) for n in range(4)]
    state = build_state(history, P, D)
    before = {topic_of(i): i for i in state.interests}
    view = like(0, T0 + 100)
    after = apply_change(state, None, view, P)
    grown = next(i for i in after.interests if topic_of(i) == 0)
    assert grown.count == before[0].count + 1
    rebuilt = build_state([*history, view], P, D).interests
    assert len(after.interests) == len(rebuilt)
    assert all(a.same_as(b) for a, b in zip(after.interests, rebuilt))


def test_many_changes_cluster_once_to_what_one_at_a_time_gives(monkeypatch):
    """The interests are a function of the recent likes: a commit of several changes, or
    a replay of a journal, clusters once and ends where change-by-change application
    ends."""
    state = build_state([like(0, T0 + n) for n in range(4)], P, D)
    views = [like(n % 3, T0 + 10 + n) for n in range(6)]
    one_by_one = state
    for v in views:
        one_by_one = apply_change(one_by_one, None, v, P)
    calls = []
    cluster = interests.cluster
    monkeypatch.setattr(interests, "cluster", lambda *a: calls.append(1) or cluster(*a))
    together = apply_changes(state, [(None, v) for v in views], P)
    assert len(calls) == 1
    assert len(together.interests) == len(one_by_one.interests)
    assert all(a.same_as(b) for a, b in zip(together.interests, one_by_one.interests))


def test_a_bounce_that_moves_no_like_keeps_the_interests_without_clustering(monkeypatch):
    state = build_state([like(0, T0 + n) for n in range(4)], P, D)
    bounce = Interaction(uuid.uuid4(), near(1), uuid.uuid4(), T0, "watch", 1.0, 600.0)
    calls = []
    cluster = interests.cluster
    monkeypatch.setattr(interests, "cluster", lambda *a: calls.append(1) or cluster(*a))
    after = apply_change(state, None, bounce, P)
    assert after.negative_count == state.negative_count + 1
    assert not calls and after.interests is state.interests


def test_a_view_far_from_every_interest_reclusters_into_a_new_one():
    state = build_state([like(0, T0 + n) for n in range(4)], P, D)
    assert len(state.interests) == 1
    for n in range(3):
        state = apply_change(state, None, like(2, T0 + 10 + n), P)
    assert {topic_of(i) for i in state.interests} == {0, 2}


def test_first_like_online_starts_an_interest_and_removal_shrinks_it():
    first = like(0, T0)
    state = apply_change(empty_state(D, P), None, first, P)
    assert len(state.interests) == 1 and state.interests[0].medoid_id == first.video_id
    second = like(0, T0 + 1)
    state = apply_change(state, None, second, P)
    assert state.interests[0].count == 2
    state = apply_change(state, second, None, P)
    assert state.interests[0].count == 1


def test_interests_round_trip_through_the_state_blob():
    state = build_state([like(n % 2, T0 + n) for n in range(6)], P, D)
    blob = interests.encode_interests(state.interests)
    decoded, used = interests.decode_interests(blob)
    assert used == len(blob) and len(decoded) == len(state.interests)
    assert all(a.same_as(b) for a, b in zip(decoded, state.interests))


def test_label_names_the_nearest_interest_only_when_close_enough():
    state = build_state([like(0, T0 + n) for n in range(4)] + [like(1, T0 + 10 + n)
                                                               for n in range(4)], P, D)
    rows = np.stack([near(0), near(1), -TOPICS[0] / np.linalg.norm(TOPICS[0])])
    labels = interests.label(state.interests, rows, 0.35)
    assert [topic_of(state.interests[n]) for n in labels[:2]] == [0, 1]
    assert labels[2] == -1
    one = build_state([like(0, T0 + n) for n in range(4)], P, D)
    assert interests.label(one.interests, rows, 0.35).tolist() == [-1, -1, -1]


def test_flat_clusters_partition_as_scipy_fcluster_does():
    """The linkage and the cut the recluster uses equal scipy's linkage and
    fcluster(criterion="distance") up to the numbering, ties and exact duplicates
    included."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    from killrvideo_reco.domain.interests import flat_clusters

    rng = np.random.default_rng(0)
    for _ in range(500):
        n, d = int(rng.integers(2, 21)), int(rng.choice([3, 8, 384]))
        base = rng.normal(size=(int(rng.integers(1, 5)), d))
        v = base[rng.integers(0, len(base), n)] + rng.choice([0.0, 0.1, 0.5]) * rng.normal(
            size=(n, d))
        v[rng.integers(0, n)] = v[0]  # an exact duplicate: a merge at distance 0
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
        distance = np.clip(1 - v @ v.T, 0, 2)
        np.fill_diagonal(distance, 0)
        tree = linkage(squareform(distance, checks=False), method="average")
        # The recluster's direct call into scipy's compiled routine: the same tree.
        assert np.array_equal(interests.average_linkage(distance[np.triu_indices(n, 1)], n),
                              tree)
        height = 1 - float(rng.choice([0.5, 0.3, 0.9, 1.0]))
        theirs, ours = fcluster(tree, t=height, criterion="distance"), flat_clusters(tree, height)
        assert len(set(zip(theirs, ours))) == len(set(theirs)) == len(set(ours))
