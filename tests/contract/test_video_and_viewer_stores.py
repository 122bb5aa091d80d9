"""VideoRepository and ViewerRepository: the same behaviour from the fakes and Cassandra."""
from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta, timezone

import numpy as np

from killrvideo_reco.domain.interests import InterestRef
from killrvideo_reco.domain.models import (
    HistoryRow,
    HistoryWrite,
    NewVideo,
    ProfileReferences,
    ProfileStamp,
    TasteChange,
)
from killrvideo_reco.domain.taste_journal import Applied, JournalChange
from killrvideo_reco.domain.taste_profile import ChannelSum, empty_state
from killrvideo_reco.domain.viewer_nearest import ViewerNearest

NOW = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)


def unit(dimension: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dimension).astype(np.float32)
    return v / np.linalg.norm(v)


def new_video(dimension: int, seed: int, model: str = "m1", **fields) -> NewVideo:
    return NewVideo(uuid.uuid4(), uuid.uuid4(), f"video {seed}", "about it", ("a", "b"), None,
                    NOW - timedelta(days=seed), "science", 600, unit(dimension, seed), model,
                    **fields)


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_video_reads_back_as_it_was_added(stores):
    dim = stores.settings.vector_dimension
    video = new_video(dim, 1)
    run(stores.videos.add(video))
    details = run(stores.videos.details(video.video_id))
    facts = run(stores.videos.facts(video.video_id))
    summaries = run(stores.videos.summaries([video.video_id, uuid.uuid4()]))
    assert details.summary.title == "video 1" and details.embedding_model == "m1"
    assert details.duration_s == 600 and details.category == "science"
    assert facts.uploader_id == video.uploader_id and facts.duration_s == 600.0
    np.testing.assert_allclose(facts.content_features, video.content_features, atol=1e-6)
    assert list(summaries) == [video.video_id]
    assert summaries[video.video_id].tags == ("a", "b")
    assert run(stores.videos.details(uuid.uuid4())) is None
    assert run(stores.videos.facts(uuid.uuid4())) is None


def test_nearest_puts_the_closest_video_first(stores):
    dim = stores.settings.vector_dimension
    videos = [new_video(dim, seed) for seed in range(20, 26)]
    for video in videos:
        run(stores.videos.add(video))
    query = videos[3].content_features + 0.01 * unit(dim, 99)
    found = run(stores.videos.nearest(query, 3))
    assert len(found) == 3
    assert found[0].summary.video_id == videos[3].video_id
    assert found[0].score >= found[1].score >= found[2].score


def test_set_vector_changes_the_embedding_and_its_model(stores):
    dim = stores.settings.vector_dimension
    video = new_video(dim, 30)
    run(stores.videos.add(video))
    run(stores.videos.set_vector(video.video_id, unit(dim, 31), "m2"))
    facts = run(stores.videos.facts(video.video_id))
    assert facts.embedding_model == "m2"
    np.testing.assert_allclose(facts.content_features, unit(dim, 31), atol=1e-6)
    scanned = {d.summary.video_id: d for d in run(stores.videos.scan_details())}
    assert scanned[video.video_id].embedding_model == "m2"


def test_catalogue_model_is_set_and_read(stores):
    model = f"model-{uuid.uuid4().hex[:6]}"
    run(stores.videos.set_catalogue_model(model))
    assert run(stores.videos.catalogue_model()) == model


def commit(stores, user, expected, version, row=None, event=None):
    state = empty_state(stores.settings.vector_dimension)
    rows = (HistoryWrite(row, frozenset({event} if event else ())),) if row else ()
    return run(stores.viewers.commit(TasteChange(user, expected, version, state, "m1", rows)))


def _channel(dim: int, count: int, seed: int) -> ChannelSum:
    vector = np.random.default_rng(seed).normal(size=dim)
    return ChannelSum(vector, 1.5 * count, count, 1_700_000_000.0 + seed)


def test_channel_cells_are_read_and_written_one_by_one(stores):
    user, dim = uuid.uuid4(), stores.settings.vector_dimension
    viewers = stores.viewers
    full = empty_state(dim).with_channels({f"c{k}": _channel(dim, 1 + k % 3, k)
                                           for k in range(5)})
    assert run(viewers.commit(TasteChange(user, None, 1, full, "m1", replace_channels=True)))
    record, _ = run(viewers.read_for_change(user, [], ["c1", "c4", "nobody"]))
    assert set(record.state.channels) == {"c1", "c4"}, "only the asked-for cells"
    for key in ("c1", "c4"):
        got, want = record.state.channels[key], full.channels[key]
        assert (got.mass, got.count, got.as_of) == (want.mass, want.count, want.as_of)
        np.testing.assert_array_equal(got.vector_sum, want.vector_sum)
    assert run(viewers.taste_state(user)).state.channels == {}, "the head alone"
    # A change writes the cells it holds; an emptied channel (count 0) is deleted.
    changed = record.state.base.with_channels({"c1": ChannelSum(np.zeros(0), 0.0, 0, 0.0),
                                               "c9": _channel(dim, 1, 9)})
    assert run(viewers.commit(TasteChange(user, 1, 2, changed, "m1")))
    after, _ = run(viewers.read_for_change(user, [], ["c0", "c1", "c4", "c9"]))
    assert set(after.state.channels) == {"c0", "c4", "c9"}
    # A rebuild replaces every cell.
    rebuilt = empty_state(dim).with_channels({"c7": _channel(dim, 2, 7)})
    assert run(viewers.commit(TasteChange(user, 2, 3, rebuilt, "m1", replace_channels=True)))
    final, _ = run(viewers.read_for_change(user, [], ["c0", "c4", "c7", "c9"]))
    assert set(final.state.channels) == {"c7"}
    # Channel rows are not history: the viewer has watched nothing.
    assert run(viewers.history(user)) == []
    assert run(viewers.read_for_change(user, [uuid.uuid4()], []))[1] == {}
    video = uuid.uuid4()
    row = HistoryRow(video, NOW, NOW, 2, 300.0, 600.0)
    assert run(viewers.commit(TasteChange(user, 3, 4, final.state.base, "m1",
                                          (HistoryWrite(row, frozenset({"e1"})),))))
    again, rows = run(viewers.read_for_change(user, [video, uuid.uuid4()], ["c7"]))
    assert set(rows) == {video} and rows[video].play_count == 2
    assert set(again.state.channels) == {"c7"}
    assert [r.video_id for r in run(viewers.history(user))] == [video]


def test_journal_entries_append_in_commit_order_and_a_snapshot_clears_them(stores):
    user, dim = uuid.uuid4(), stores.settings.vector_dimension
    viewers = stores.viewers
    uploader, videos = uuid.uuid4(), [uuid.uuid4() for _ in range(3)]
    base = empty_state(dim).with_channels({str(uploader): _channel(dim, 1, 1),
                                           "c2": _channel(dim, 2, 2)})
    assert run(viewers.commit(TasteChange(user, None, 10, base, "m1", replace_channels=True)))
    entries = [(JournalChange(v, uploader, "watch", None, Applied(1e9 + k, 10.0 * k, None)),)
               for k, v in enumerate(videos)]
    version = 10
    for entry, video in zip(entries, videos):  # versions need not be consecutive
        row = HistoryRow(video, NOW, NOW, 1, 300.0, 600.0)
        assert run(viewers.commit(TasteChange(user, version, version + 7, base, "m1",
                                              (HistoryWrite(row, frozenset({"e"})),),
                                              journal=entry)))
        version += 7
    assert not run(viewers.commit(TasteChange(user, 10, 99, base, "m1", journal=entries[0]))), \
        "an entry is conditional on the version too"
    record, rows = run(viewers.read_for_change(user, videos, ["c2"]))
    assert record.version == version and record.journal == tuple(entries)
    assert set(record.state.channels) == {str(uploader), "c2"}, \
        "the journal's channels are read with the change's"
    assert set(rows) == set(videos)
    assert run(viewers.taste_state(user)).journal == tuple(entries)
    # without the head: the rows and the cells alone, as a replica that kept the state reads
    rows, cells = run(viewers.rows_for_change(user, [videos[0], uuid.uuid4()],
                                              [str(uploader), "nobody"], dim))
    assert set(rows) == {videos[0]} and set(cells) == {str(uploader)}
    np.testing.assert_array_equal(cells[str(uploader)].vector_sum,
                                  base.channels[str(uploader)].vector_sum)
    assert run(viewers.commit(TasteChange(user, version, version + 1, base, "m1")))
    assert run(viewers.taste_state(user)).journal == (), "a snapshot clears the journal"
    assert run(viewers.commit(TasteChange(user, version + 1, version + 2, base, "m1",
                                          journal=entries[2])))
    assert run(viewers.taste_state(user)).journal == (entries[2],)


def test_taste_commits_are_conditional_on_the_version_read(stores):
    user, video = uuid.uuid4(), uuid.uuid4()
    assert run(stores.viewers.taste_state(user, for_update=True)).version is None
    row = HistoryRow(video, NOW, NOW, 1, 300.0, 600.0)
    assert commit(stores, user, None, 10, row, "e1") is True
    assert commit(stores, user, None, 11) is False, "a stale version loses the race"
    record = run(stores.viewers.taste_state(user, for_update=True))
    assert record.version == 10 and record.model_id == "m1" and record.state is not None
    stored = run(stores.viewers.read_for_change(user, [video], []))[1][video]
    assert stored.play_count == 1 and stored.event_ids == frozenset({"e1"})
    assert run(stores.viewers.seen_among(user, [video, uuid.uuid4()])) == {video}
    assert [r.video_id for r in run(stores.viewers.history(user))] == [video]


def test_the_read_model_keeps_the_newest_version(stores):
    user = uuid.uuid4()
    dim = stores.settings.vector_dimension
    refs = ProfileReferences((uuid.uuid4(), uuid.uuid4()),
                             (InterestRef(uuid.uuid4(), 1.5, 1e9, 2),))
    run(stores.viewers.write_profile(user, unit(dim, 1), "m1", 3, refs, 200))
    run(stores.viewers.write_profile(user, unit(dim, 2), "m1", 9, ProfileReferences(),
                                     100))  # older: loses
    profile = run(stores.viewers.profile(user))
    assert profile.item_count == 3 and profile.model_id == "m1"
    np.testing.assert_allclose(profile.preference_vector, unit(dim, 1), atol=1e-6)
    assert profile.references == refs, "stored by reference, in order"
    assert profile.recent_positive == () and not profile.resolved()
    assert run(stores.viewers.profile(uuid.uuid4())) is None
    # The stamp the feed's next pages look their list up by: the same version, no vectors.
    assert run(stores.viewers.profile_stamp(user)) == ProfileStamp(profile.version, 3)
    assert profile.version == 200
    assert run(stores.viewers.profile_stamp(uuid.uuid4())) is None


def test_views_are_counted_in_total_and_new_viewers_per_day(stores):
    video, day = uuid.uuid4(), date(2026, 11, 2) + timedelta(days=uuid.uuid4().int % 1000)
    for new_viewer in (True, False, True):
        run(stores.viewers.count_view(video, day, new_viewer))
    assert run(stores.viewers.total_views([video, uuid.uuid4()])) == {video: 3}
    assert (video, 2) in run(stores.viewers.views_on(day))


def test_imported_watches_are_history_found_by_token_range(stores):
    user = uuid.uuid4()
    rows = [HistoryRow(uuid.uuid4(), NOW, NOW, 2, 500.0, 600.0) for _ in range(3)]
    done = []
    assert run(stores.viewers.import_watches([(user, r) for r in rows], done.append)) == 3
    assert sum(done) == 3
    whole_ring = (-2**63, 2**63 - 1)
    found = [(u, r.video_id) for u, r in run(stores.viewers.history_in_token_range(*whole_ring))
             if u == user]
    assert sorted(v for _, v in found) == sorted(r.video_id for r in rows)
    assert user in run(stores.viewers.users_in_token_range(*whole_ring))
    assert {r.play_count for r in run(stores.viewers.history(user))} == {2}


def test_behaviour_vectors_are_written_per_slot(stores):
    user = uuid.uuid4()
    width = stores.settings.behaviour_dimension
    run(stores.viewers.write_profile(user, None, "m1", 0, ProfileReferences(), 5))
    run(stores.viewers.write_behaviour_many("b", "run-1", [(user, unit(width, 7))], 10))
    profile = run(stores.viewers.profile(user))
    run_id, vector = profile.behaviour["b"]
    assert run_id == "run-1"
    np.testing.assert_allclose(vector, unit(width, 7), atol=1e-6)


def test_forget_erases_every_per_viewer_row(stores):
    user, video = uuid.uuid4(), uuid.uuid4()
    commit(stores, user, None, 10, HistoryRow(video, NOW, NOW, 1, 300.0, 600.0), "e1")
    run(stores.viewers.write_profile(user, unit(stores.settings.vector_dimension, 1), "m1", 1,
                                     ProfileReferences(), 10))
    run(stores.viewers.write_nearest(user, ViewerNearest.of("r1", 5, 1e9, unit(8, 1), (video,)), 10))
    run(stores.viewers.forget(user, 10**18))
    assert run(stores.viewers.history(user)) == []
    assert run(stores.viewers.taste_state(user)).version is None
    assert run(stores.viewers.profile(user)) is None


def test_a_kept_nearest_list_rides_with_the_read_model_and_the_newest_write_wins(stores):
    user, dim = uuid.uuid4(), stores.settings.vector_dimension
    ids = tuple(uuid.uuid4() for _ in range(3))
    run(stores.viewers.write_profile(user, unit(dim, 1), "m1", 3, ProfileReferences(), 100))
    assert run(stores.viewers.profile(user)).nearest is None
    kept = ViewerNearest.of("run-1", 150, 1.7e9, unit(9, 2), ids)
    run(stores.viewers.write_nearest(user, kept, 100))
    run(stores.viewers.write_nearest(user, ViewerNearest.of("run-0", 50, 1.6e9, unit(9, 3), ()),
                                     90))  # computed for an older profile: loses
    # A newer read model (the viewer's next view) keeps the list; the feed decides
    # whether it still answers.
    run(stores.viewers.write_profile(user, unit(dim, 4), "m1", 4, ProfileReferences(), 200))
    found = run(stores.viewers.profile(user)).nearest
    assert (found.run_id, found.depth, found.video_ids) == ("run-1", 150, ids)
    assert abs(found.computed_at - 1.7e9) < 1e-3
    np.testing.assert_allclose(found.query, unit(9, 2), atol=1e-7)
