"""The versioned schema and the vector search it enables, on a real Cassandra 5.0."""
import asyncio
import uuid
from datetime import datetime, timezone

import numpy as np
import pytest

from killrvideo_reco.domain.models import HistoryRow, HistoryWrite, NewVideo, TasteChange
from killrvideo_reco.domain.taste_profile import empty_state
from killrvideo_reco.store import schema
from killrvideo_reco.store.videos import VideoStore
from killrvideo_reco.store.viewers import ViewerStore

pytestmark = pytest.mark.integration


def test_schema_applies_every_file_and_records_it(cassandra):
    settings, session = cassandra
    applied = schema.applied_versions(session, settings.cassandra_keyspace)
    assert sorted(applied) == [m.version for m in schema.load_migrations()]
    tables = {row.table_name for row in session.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name=%s",
        (settings.cassandra_keyspace,))}
    assert {"videos", "viewer_history", "user_preferences", "video_views_by_day_bucket",
            "video_view_counts", "latest_videos", "schema_migrations"} <= tables


def test_second_bootstrap_applies_nothing(cassandra):
    settings, session = cassandra
    assert schema.apply_migrations(session, settings) == []


def test_vector_index_is_sai_with_cosine(cassandra):
    settings, session = cassandra
    row = session.execute(
        "SELECT options FROM system_schema.indexes WHERE keyspace_name=%s AND table_name='videos' "
        "AND index_name='videos_content_features_idx'", (settings.cassandra_keyspace,)).one()
    assert row is not None
    assert row.options["class_name"].endswith("StorageAttachedIndex")
    assert row.options["similarity_function"] == "cosine"


def test_new_file_applies_on_top(cassandra, tmp_path):
    settings, session = cassandra
    for migration in schema.load_migrations():
        (tmp_path / f"{migration.version:04d}_{migration.name}.cql").write_text(migration.text)
    (tmp_path / "9999_extra.cql").write_text(
        "CREATE TABLE IF NOT EXISTS {{KEYSPACE}}.extra_table (id int PRIMARY KEY);")
    assert schema.apply_migrations(session, settings, tmp_path) == ["9999_extra"]
    assert schema.apply_migrations(session, settings, tmp_path) == []
    assert schema.current_version(session, settings.cassandra_keyspace) == 9999
    session.execute(f"DROP TABLE {settings.cassandra_keyspace}.extra_table", timeout=60)
    session.execute(f"DELETE FROM {settings.cassandra_keyspace}.schema_migrations WHERE version=9999")


def test_dimension_mismatch_stops_bootstrap_naming_both_numbers(cassandra):
    settings, session = cassandra
    wrong = settings.model_copy(update={"vector_dimension": 768})
    with pytest.raises(schema.SchemaError) as error:
        schema.apply_migrations(session, wrong)
    assert "384" in str(error.value) and "768" in str(error.value)


def _video(vector, title):
    return NewVideo(uuid.uuid4(), uuid.uuid4(), title, "", ("t",), None,
                    datetime.now(timezone.utc), None, 60, np.asarray(vector, np.float32), "test")


def test_ann_returns_nearest_rows_in_cosine_order(cassandra):
    settings, session = cassandra
    store = VideoStore(session, settings.cassandra_keyspace)
    rng = np.random.default_rng(7)
    query = rng.normal(size=384).astype(np.float32)
    query /= np.linalg.norm(query)
    # Known geometry: video k sits at angle ~k*0.1 rad from the query.
    noise = rng.normal(size=384)
    noise -= noise.dot(query) * query
    noise /= np.linalg.norm(noise)
    angles = [0.05, 0.3, 0.6, 0.9, 1.2, 1.5, 2.0, 2.5]
    videos = [_video(np.cos(a) * query + np.sin(a) * noise, f"angle {a}") for a in angles]

    async def run():
        for video in reversed(videos):
            await store.add(video)
        return await store.nearest(query, 5)

    found = asyncio.run(run())
    assert [c.summary.title for c in found] == [f"angle {a}" for a in angles[:5]]
    for candidate, angle in zip(found, angles):
        assert candidate.score == pytest.approx(np.cos(angle), abs=1e-4)


def test_watched_among_candidates_is_one_partition_lookup(cassandra):
    settings, session = cassandra
    viewers = ViewerStore(session, settings.cassandra_keyspace)
    user = uuid.uuid4()
    watched = [uuid.uuid4() for _ in range(250)]
    others = [uuid.uuid4() for _ in range(50)]
    now = datetime.now(timezone.utc)
    statement = session.prepare(
        f"INSERT INTO {settings.cassandra_keyspace}.viewer_history (userid, videoid, last_watched, "
        "play_count) VALUES (?, ?, ?, 1)")
    for video in watched:
        session.execute(statement, (user, video, now))
    candidates = watched[::10] + others
    seen = asyncio.run(viewers.seen_among(user, candidates))
    assert seen == set(watched[::10])
    assert asyncio.run(viewers.seen_among(uuid.uuid4(), candidates)) == set()


def test_taste_commit_is_conditional(cassandra):
    settings, session = cassandra
    viewers = ViewerStore(session, settings.cassandra_keyspace)
    user, video = uuid.uuid4(), uuid.uuid4()
    row = HistoryRow(video_id=video, play_count=1, seconds_watched=5.0)
    states = [empty_state(dimension) for dimension in (2, 3, 4)]  # three distinguishable states

    async def run():
        def change(expected, version, state, event):
            return TasteChange(user, expected, version, state, "m",
                               (HistoryWrite(row, frozenset({event})),))
        first = await viewers.commit(change(None, 10, states[0], "e1"))
        stale = await viewers.commit(change(None, 11, states[1], "e2"))
        second = await viewers.commit(change(10, 12, states[2], "e3"))
        return (first, stale, second, await viewers.taste_state(user),
                (await viewers.read_for_change(user, [video], []))[1][video])

    first, stale, second, taste, stored = asyncio.run(run())
    assert (first, stale, second) == (True, False, True)
    assert (taste.version, taste.model_id) == (12, "m")
    assert taste.state is not None and taste.state.base == states[2]
    assert stored.event_ids == frozenset({"e1", "e3"})
