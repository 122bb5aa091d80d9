"""The read model keeps the recent likes and interests by reference (profile_refs.py): a
view writes their ids, the feed resolves them through the view path's reference cache,
and rows written by older releases, with vectors, still read."""
from __future__ import annotations

import asyncio
import uuid

import numpy as np
from cachetools import TTLCache

from killrvideo_reco.domain.explanations import encode_recent
from killrvideo_reco.domain.interests import Interest, InterestRef, encode_interests
from killrvideo_reco.domain.models import ProfileReferences, RecentVideo, StoredProfile
from killrvideo_reco.domain.profile_refs import decode_references, encode_references, resolve_profile
from killrvideo_reco.domain.taste_head import applied_unit
from killrvideo_reco.service.activity import ActivityService
from tests.unit.test_activity_service import DIM, MODEL, world
from tests.unit.test_taste_references import CountingVideos


def unit(seed: int, dimension: int = DIM) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dimension)
    return (v / np.linalg.norm(v)).astype(np.float16).astype(np.float32)


def test_references_round_trip_and_take_a_few_bytes_where_vectors_took_kilobytes():
    refs = ProfileReferences(tuple(uuid.uuid4() for _ in range(20)),
                             tuple(InterestRef(uuid.uuid4(), 2.5 - n, 1e9 + n, 3 + n)
                                   for n in range(3)))
    recent_blob, interests_blob = encode_references(refs)
    decoded, recent, interests = decode_references(recent_blob, interests_blob)
    assert decoded == refs and recent == () and interests == ()
    assert len(recent_blob) + len(interests_blob) < 600
    with_vectors = (len(encode_recent([RecentVideo(v, "a title", unit(n, 384))
                                       for n, v in enumerate(refs.recent)]))
                    + len(encode_interests([Interest(i.medoid_id, unit(7, 384), i.importance,
                                                     i.as_of, i.count) for i in refs.interests])))
    assert with_vectors > 20 * (len(recent_blob) + len(interests_blob))
    assert encode_references(ProfileReferences()) == (None, None)


def test_a_row_of_an_older_release_reads_resolved_with_its_references():
    recent = [RecentVideo(uuid.uuid4(), "old like", unit(1))]
    interest = Interest(uuid.uuid4(), unit(2), 1.5, 1e9, 2)
    refs, got_recent, got_interests = decode_references(encode_recent(recent),
                                                        encode_interests([interest]))
    assert refs == ProfileReferences((recent[0].video_id,),
                                     (InterestRef(interest.medoid_id, 1.5, 1e9, 2),))
    np.testing.assert_array_equal(got_recent[0].unit_vector, recent[0].unit_vector)
    np.testing.assert_array_equal(got_interests[0].medoid, interest.medoid)
    profile = StoredProfile(None, MODEL, 1, got_recent, {}, got_interests, 1, refs)
    assert profile.resolved(), "nothing left to resolve"


def test_resolution_leaves_out_what_the_catalogue_no_longer_has():
    kept, gone = uuid.uuid4(), uuid.uuid4()
    refs = ProfileReferences((gone, kept), (InterestRef(gone, 2.0, 1e9, 2),
                                            InterestRef(kept, 1.0, 1e9, 1)))
    profile = StoredProfile(None, MODEL, 2, references=refs)
    assert not profile.resolved()
    raw = np.arange(1, DIM + 1, dtype=np.float32)
    resolved = resolve_profile(profile, {kept: ("kept", applied_unit(raw))}, DIM)
    assert [r.video_id for r in resolved.recent_positive] == [kept]
    assert [i.medoid_id for i in resolved.interests] == [kept]
    assert resolved.recent_positive[0].title == "kept"
    np.testing.assert_allclose(np.linalg.norm(resolved.recent_positive[0].unit_vector), 1,
                               atol=1e-3)


def test_the_feed_resolves_what_the_views_wrote_bit_for_bit_from_their_cache():
    videos, viewers, _, ids, params = world()
    counted = CountingVideos(videos)
    activity = ActivityService(counted, viewers, params, DIM,
                               facts_cache=TTLCache(maxsize=100, ttl=600),
                               reference_cache=TTLCache(maxsize=100, ttl=3600))
    user = uuid.uuid4()
    for n in range(4):
        asyncio.run(activity.record_view(user, ids[n], f"e{n}", 500, 600))
    stored = asyncio.run(viewers.profile(user))
    assert stored.recent_positive == () and stored.interests == (), "the row holds ids"
    assert stored.references.recent == tuple(ids[n] for n in (3, 2, 1, 0))
    resolved = asyncio.run(activity.facts.resolve_profile(stored, DIM))
    assert counted.reads == [], "the views put every referenced video in the cache"
    state = asyncio.run(activity.taste(user))
    assert [r.video_id for r in resolved.recent_positive] == [r.video_id for r in
                                                              state.recent_positive]
    for got, want in zip(resolved.recent_positive, state.recent_positive):
        np.testing.assert_array_equal(got.unit_vector, want.embedding)
    assert [(i.medoid_id, i.importance, i.count) for i in resolved.interests] == \
        [(i.medoid_id, i.importance, i.count) for i in state.interests]
    for got_i, want_i in zip(resolved.interests, state.interests):
        np.testing.assert_array_equal(got_i.medoid, want_i.medoid)
    # Another replica, caches cold: one read of the referenced videos.
    cold = ActivityService(counted, viewers, params, DIM)
    again = asyncio.run(cold.facts.resolve_profile(stored, DIM))
    assert len(counted.reads) == 1 and set(counted.reads[0]) == set(ids[:4])
    assert [r.video_id for r in again.recent_positive] == [r.video_id for r in
                                                           resolved.recent_positive]


def test_a_part_already_resolved_is_kept_and_the_other_resolved():
    liked, medoid = uuid.uuid4(), uuid.uuid4()
    interest = Interest(medoid, unit(2), 1.0, 1e9, 1)
    profile = StoredProfile(None, MODEL, 1, (), {}, (interest,), 1,
                            ProfileReferences((liked,), (InterestRef(medoid, 1.0, 1e9, 1),)))
    assert not profile.resolved(), "the recent likes still need their vectors"
    resolved = resolve_profile(profile, {liked: ("liked", applied_unit(np.ones(DIM)))}, DIM)
    assert resolved.resolved() and resolved.interests == (interest,)
    assert [r.video_id for r in resolved.recent_positive] == [liked]
