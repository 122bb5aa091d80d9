"""CQL for service-wide facts: named values in service_metadata and the schema version."""
from __future__ import annotations

from functools import partial

from cassandra.cluster import Session

from killrvideo_reco.store.aio import execute
from killrvideo_reco.store.connection import WRITE_EXECUTION
from killrvideo_reco.store.connection import prepare as prepare_statement


class MetadataStore:
    def __init__(self, session: Session, keyspace: str):
        self.session = session
        ks, prepare = keyspace, partial(prepare_statement, session)
        self._get = prepare(f"SELECT value FROM {ks}.service_metadata WHERE name = ?")
        self._set = prepare(f"INSERT INTO {ks}.service_metadata (name, value) VALUES (?, ?)")
        self._schema_version = prepare(
            f"SELECT max(version) AS version FROM {ks}.schema_migrations")

    async def get(self, name: str) -> str | None:
        rows = await execute(self.session, self._get, (name,))
        return rows[0].value if rows else None

    async def set(self, name: str, value: str) -> None:
        await execute(self.session, self._set, (name, value), WRITE_EXECUTION)

    async def schema_version(self) -> int | None:
        """The newest schema file applied to this keyspace, None if none."""
        rows = await execute(self.session, self._schema_version)
        return rows[0].version if rows else None
