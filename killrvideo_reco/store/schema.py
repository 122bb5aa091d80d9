"""Versioned CQL schema: applies cql/NNNN_name.cql files in order, once each.

What was applied is recorded in <keyspace>.schema_migrations, so a second run applies
nothing and a new file applies on top. The vector dimension is a setting; a table
created with another dimension stops the bootstrap with both numbers named.
"""
from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cassandra import OperationTimedOut
from cassandra.cluster import Session

from killrvideo_reco.domain.behaviour import SLOTS
from killrvideo_reco.settings import Settings

log = logging.getLogger(__name__)

CQL_DIR = Path(__file__).resolve().parents[2] / "cql"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.cql$")
_VECTOR_TYPE = re.compile(r"vector<float,\s*(\d+)>")
# Tables whose vector columns must all share the configured dimension.
VECTOR_COLUMNS = (("videos", "content_features"), ("user_preferences", "preference_vector"))
# Behaviour columns: (table, column, extra dimensions beyond BEHAVIOUR_DIMENSION).
BEHAVIOUR_COLUMNS = tuple((table, f"behaviour_{slot}", extra) for table, extra in
                          (("videos", 1), ("user_preferences", 0)) for slot in SLOTS)


# Schema changes wait for every node to agree; on a busy node that exceeds a query timeout.
DDL_TIMEOUT_S = 120


class SchemaError(RuntimeError):
    """The database schema cannot be brought to the expected state."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    text: str

    def statements(self, settings: Settings) -> list[str]:
        rendered = (self.text.replace("{{VECTOR_DIMENSION}}", str(settings.vector_dimension))
                    .replace("{{BEHAVIOUR_DIMENSION}}", str(settings.behaviour_dimension))
                    .replace("{{BEHAVIOUR_INDEX_DIMENSION}}",
                             str(settings.behaviour_dimension + 1))
                    .replace("{{KEYSPACE}}", settings.cassandra_keyspace))
        without_comments = "\n".join(
            line for line in rendered.splitlines() if not line.strip().startswith("--"))
        return [s.strip() for s in without_comments.split(";") if s.strip()]

    def checksum(self, settings: Settings) -> str:
        return hashlib.sha256("\n;\n".join(self.statements(settings)).encode()).hexdigest()[:16]


def load_migrations(directory: Path = CQL_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.cql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise SchemaError(f"{path.name}: schema files must be named NNNN_name.cql")
        found.append(Migration(int(match.group(1)), match.group(2), path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise SchemaError(f"duplicate schema versions in {directory}: {versions}")
    return found


def expected_version(directory: Path = CQL_DIR) -> int:
    return max((m.version for m in load_migrations(directory)), default=0)


def replication_cql(settings: Settings) -> str:
    parts = [f"'{key}': {value!r}" if isinstance(value, str) else f"'{key}': {value}"
             for key, value in settings.replication.items()]
    return "{" + ", ".join(parts).replace('"', "'") + "}"


def ensure_keyspace(session: Session, settings: Settings) -> None:
    keyspace = settings.cassandra_keyspace
    if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]{0,47}", keyspace):
        raise SchemaError(f"invalid keyspace name {keyspace!r}")
    session.execute(f"CREATE KEYSPACE IF NOT EXISTS {keyspace} "
                    f"WITH replication = {replication_cql(settings)}", timeout=DDL_TIMEOUT_S)
    session.execute(f"CREATE TABLE IF NOT EXISTS {keyspace}.schema_migrations ("
                    "version int PRIMARY KEY, name text, checksum text, applied_at timestamp)",
                    timeout=DDL_TIMEOUT_S)
    wait_for_every_node(session)


def wait_for_every_node(session: Session, timeout_s: float = 120.0) -> bool:
    """Until every live node reports the same schema version (its own system.local), so
    no node answers a new table with INCOMPATIBLE_SCHEMA. The driver's own check reads
    the peers' gossiped versions, which can agree before a node has applied the change."""
    deadline = time.monotonic() + timeout_s
    while True:
        versions = set()
        for host in [h for h in session.cluster.metadata.all_hosts() if h.is_up]:
            try:
                row = session.execute("SELECT schema_version FROM system.local",
                                      host=host, timeout=10).one()
                versions.add(row.schema_version)
            except Exception:  # noqa: BLE001 - a node that cannot answer has not agreed
                versions.add(None)
        if len(versions) <= 1 and None not in versions:
            return True
        if time.monotonic() > deadline:
            log.warning("nodes still disagree on the schema after %.0fs: %s", timeout_s,
                        versions)
            return False
        time.sleep(0.5)


def applied_versions(session: Session, keyspace: str) -> dict[int, str]:
    rows = session.execute(f"SELECT version, checksum FROM {keyspace}.schema_migrations")
    return {row.version: row.checksum for row in rows}


def current_version(session: Session, keyspace: str) -> int | None:
    try:
        return max(applied_versions(session, keyspace), default=None)
    except Exception:  # noqa: BLE001 - keyspace or table missing: nothing applied
        return None


def vector_dimensions(session: Session, keyspace: str,
                      columns=VECTOR_COLUMNS) -> dict[str, int]:
    """The dimension of each existing vector column we own, by 'table.column'."""
    found = {}
    for table, column, *_ in columns:
        row = session.execute(
            "SELECT type FROM system_schema.columns WHERE keyspace_name=%s "
            "AND table_name=%s AND column_name=%s", (keyspace, table, column)).one()
        match = _VECTOR_TYPE.search(row.type) if row else None
        if match:
            found[f"{table}.{column}"] = int(match.group(1))
    return found


def check_vector_dimension(session: Session, settings: Settings) -> None:
    for column, dimension in vector_dimensions(session, settings.cassandra_keyspace).items():
        if dimension != settings.vector_dimension:
            raise SchemaError(
                f"{settings.cassandra_keyspace}.{column} holds {dimension}-dimensional vectors "
                f"but VECTOR_DIMENSION is {settings.vector_dimension}. Set VECTOR_DIMENSION="
                f"{dimension}, or run 'make reembed' to re-embed the catalogue at "
                f"{settings.vector_dimension} dimensions.")
    found = vector_dimensions(session, settings.cassandra_keyspace, BEHAVIOUR_COLUMNS)
    for table, column, extra in BEHAVIOUR_COLUMNS:
        trained = found.get(f"{table}.{column}")
        if trained is not None and trained != settings.behaviour_dimension + extra:
            raise SchemaError(
                f"{settings.cassandra_keyspace}.{table}.{column} was created for "
                f"BEHAVIOUR_DIMENSION={trained - extra}, but the setting is "
                f"{settings.behaviour_dimension}. Set BEHAVIOUR_DIMENSION={trained - extra}.")


def reset_keyspace(session: Session, settings: Settings, attempts: int = 5) -> list[str]:
    """Drop the keyspace and apply the schema afresh (evaluation and test keyspaces only).
    Schema changes on a busy node can outlast the client timeout while the server carries
    on, so a timeout is retried rather than fatal."""
    for attempt in range(attempts):
        try:
            session.execute(f"DROP KEYSPACE IF EXISTS {settings.cassandra_keyspace}",
                            timeout=DDL_TIMEOUT_S)
            return apply_migrations(session, settings)
        except OperationTimedOut:
            if attempt == attempts - 1:
                raise
            time.sleep(10)
    return []


def apply_migrations(session: Session, settings: Settings,
                     directory: Path = CQL_DIR) -> list[str]:
    """Apply what is missing; return the names of the files applied (empty: up to date)."""
    keyspace = settings.cassandra_keyspace
    ensure_keyspace(session, settings)
    check_vector_dimension(session, settings)
    done = applied_versions(session, keyspace)
    applied = []
    for migration in load_migrations(directory):
        label = f"{migration.version:04d}_{migration.name}"
        if migration.version in done:
            if done[migration.version] != migration.checksum(settings):
                log.warning("%s changed since it was applied; schema files are append-only, "
                            "add a new file instead", label)
            continue
        log.info("applying %s", label)
        for statement in migration.statements(settings):
            session.execute(statement, timeout=DDL_TIMEOUT_S)
        wait_for_every_node(session)
        session.execute(
            f"INSERT INTO {keyspace}.schema_migrations (version, name, checksum, applied_at) "
            "VALUES (%s, %s, %s, %s)",
            (migration.version, migration.name, migration.checksum(settings),
             datetime.now(timezone.utc)))
        applied.append(label)
    check_vector_dimension(session, settings)
    return applied

