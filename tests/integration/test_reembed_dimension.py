"""`make reembed` across a dimension change: the vector tables are recreated safely."""
import asyncio
import uuid

import numpy as np
import pytest

from killrvideo_reco.bootstrap import build_resources
from killrvideo_reco.embeddings.factory import build_provider
from killrvideo_reco.jobs.reembed import reembed_catalogue
from killrvideo_reco.store import schema, vector_tables
from killrvideo_reco.store.connection import connect
from tests.conftest import settings_for

pytestmark = pytest.mark.integration


def test_dimension_change_recreates_vector_tables_and_keeps_videos(cassandra_endpoint):
    host, port = cassandra_endpoint
    keyspace = f"t_redim_{uuid.uuid4().hex[:6]}"
    old = settings_for(host, port, keyspace)
    cluster, session = connect(old)
    schema.apply_migrations(session, old)
    cluster.shutdown()
    resources = build_resources(old, build_provider(old))
    try:

        async def seed():
            return [(await resources.catalogue.add_video(
                uuid.uuid4(), f"video {n}", "about things", ["t"], None, None, 60, None)).video_id
                for n in range(5)]

        ids = asyncio.run(seed())
        new = old.model_copy(update={"vector_dimension": 64})
        with pytest.raises(schema.SchemaError):
            schema.apply_migrations(resources.database.session, new)
        assert reembed_catalogue(new) == 0
        dims = schema.vector_dimensions(resources.database.session, keyspace)
        assert dims == {"videos.content_features": 64, "user_preferences.preference_vector": 64}
        assert not vector_tables.backup_exists(resources.database.session, keyspace)
        rows = list(resources.database.session.execute(
            f"SELECT videoid, name, content_features, embedding_model FROM {keyspace}.videos"))
        assert {r.videoid for r in rows} == set(ids)
        assert all(len(r.content_features) == 64 and r.embedding_model == "hashing-v1:64"
                   for r in rows)
        query = np.asarray(rows[0].content_features, dtype=np.float32)
        nearest = resources.database.session.execute(
            f"SELECT videoid FROM {keyspace}.videos ORDER BY content_features ANN OF %s LIMIT 1",
            (query.tolist(),)).one()
        assert nearest.videoid == rows[0].videoid
    finally:
        resources.database.session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=60)
        resources.close()
