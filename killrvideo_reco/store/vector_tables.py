"""Changing the vector dimension of an existing keyspace.

CQL cannot alter a vector column's type, nor re-add a dropped column with another
dimension, so the tables holding vectors are recreated: videos' other columns are first
copied to a backup table (kept until the end, so an interrupted run resumes from it)."""
from __future__ import annotations

import asyncio
import logging
import re

from cassandra.cluster import Session

from killrvideo_reco.domain.models import VideoDetails
from killrvideo_reco.settings import Settings
from killrvideo_reco.store import schema
from killrvideo_reco.store.schema import load_migrations
from killrvideo_reco.store.videos import summary_from_row

log = logging.getLogger(__name__)
BACKUP = "videos_reembed_backup"
VIDEO_COLUMNS = ("videoid", "userid", "name", "description", "tags", "thumbnail_url",
                 "added_date", "category", "duration_s")


def _creates(settings: Settings, table: str) -> list[str]:
    """The schema files' CREATE statements for `table` and its indexes, at the new dimension."""
    target = re.escape(f"{settings.cassandra_keyspace}.{table}")
    pattern = re.compile(rf"^create\s+table\s+if\s+not\s+exists\s+{target}\s*\(|"
                         rf"^alter\s+table\s+{target}\s+add\b|"
                         rf"\son\s+{target}\s*\(", re.IGNORECASE)
    return [statement for migration in load_migrations()
            for statement in migration.statements(settings) if pattern.search(statement)]


def backup_exists(session: Session, keyspace: str) -> bool:
    row = session.execute("SELECT table_name FROM system_schema.tables WHERE keyspace_name=%s "
                          "AND table_name=%s", (keyspace, BACKUP)).one()
    return row is not None


def recreate_with_dimension(session: Session, settings: Settings) -> None:
    """Back up videos (without vectors), drop and recreate videos and user_preferences."""
    ks = settings.cassandra_keyspace
    if not backup_exists(session, ks):
        session.execute(f"CREATE TABLE {ks}.{BACKUP} (videoid uuid PRIMARY KEY, userid uuid, "
                        "name text, description text, tags set<text>, thumbnail_url text, "
                        "added_date timestamp, category text, duration_s int)")
        insert = session.prepare(f"INSERT INTO {ks}.{BACKUP} ({', '.join(VIDEO_COLUMNS)}) "
                                 f"VALUES ({', '.join('?' for _ in VIDEO_COLUMNS)})")
        copied = 0
        for row in session.execute(f"SELECT {', '.join(VIDEO_COLUMNS)} FROM {ks}.videos",
                                   timeout=120):
            session.execute(insert, tuple(getattr(row, c) for c in VIDEO_COLUMNS))
            copied += 1
        log.info("backed up %d videos to %s.%s", copied, ks, BACKUP)
    for table in ("videos", "user_preferences"):
        session.execute(f"DROP TABLE IF EXISTS {ks}.{table}", timeout=120)
        for statement in _creates(settings, table):
            session.execute(statement, timeout=120)
    log.info("recreated videos and user_preferences with %d-dimensional vectors",
             settings.vector_dimension)


def backed_up_videos(session: Session, keyspace: str) -> list[VideoDetails]:
    """The backed-up videos, without vectors (the model of each is unknown: None)."""
    rows = session.execute(f"SELECT {', '.join(VIDEO_COLUMNS)} FROM {keyspace}.{BACKUP}",
                           timeout=120)
    return [VideoDetails(summary_from_row(row), row.category, row.duration_s, None)
            for row in rows]


def drop_backup(session: Session, keyspace: str) -> None:
    session.execute(f"DROP TABLE IF EXISTS {keyspace}.{BACKUP}", timeout=120)


def prepare_dimension(session: Session, settings: Settings) -> bool:
    """Before re-embedding: recreate the vector tables when the configured dimension is
    not the keyspace's (or an interrupted run left its backup), then apply the schema.
    Returns whether the tables were recreated (the videos then come from the backup)."""
    schema.ensure_keyspace(session, settings)
    dimensions = schema.vector_dimensions(session, settings.cassandra_keyspace)
    resuming = backup_exists(session, settings.cassandra_keyspace)
    recreate = resuming or any(d != settings.vector_dimension for d in dimensions.values())
    if recreate:
        log.warning("vector dimension changes %s -> %d: recreating the vector tables",
                    dimensions or "(resume)", settings.vector_dimension)
        recreate_with_dimension(session, settings)
    schema.apply_migrations(session, settings)
    return recreate


class VectorTablesStore:
    """The re-embedding job's view of the backup table."""

    def __init__(self, session: Session, keyspace: str):
        self.session, self.keyspace = session, keyspace

    async def backed_up_videos(self) -> list[VideoDetails]:
        return await asyncio.to_thread(backed_up_videos, self.session, self.keyspace)

    async def drop_backup(self) -> None:
        await asyncio.to_thread(drop_backup, self.session, self.keyspace)
