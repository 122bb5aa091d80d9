"""The data of the pgvector side-by-side: read from a Cassandra bench keyspace, copied into a
pgserver PostgreSQL (cached in .bench/pgvector), plus synthetic long-history viewers
written to both systems (Cassandra: keyspace bench_pg_long, dropped after the run)."""
from __future__ import annotations

import functools
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args

from bench import retrieval, seed
from bench.machine import REPO
from killrvideo_reco.store.schema import apply_migrations

PG_DIR = REPO / ".bench" / "pgvector"
LONG_KEYSPACE = "bench_pg_long"
# pgvector's defaults (the PR sets none): m and ef_construction of the index, ef_search
# of the query.
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 64
# The whole table and index fit in memory, as Cassandra's data fits in its page cache.
PG_SERVER_SETTINGS = {"shared_buffers": "1GB"}
LONG_SEED = 20261123


@dataclass
class Catalogue:
    keyspace: str
    ids: list[uuid.UUID]
    vectors: np.ndarray          # unit rows, float32, in `ids` order
    row_of: dict[uuid.UUID, int]
    marker: dict

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for u in self.ids:
            h.update(u.bytes)
        h.update(np.ascontiguousarray(self.vectors).tobytes())
        return h.hexdigest()


@dataclass
class Viewer:
    user_id: uuid.UUID
    profile: np.ndarray
    history: list[uuid.UUID]     # in the order the history table returned it
    history_keyspace: str        # where our exclusion looks it up
    long: bool = False
    history_set: set[uuid.UUID] = field(default_factory=set)

    def __post_init__(self):
        self.history_set = set(self.history)

    @functools.cached_property
    def profile_literal(self) -> str:
        return retrieval.vector_literal(self.profile)


# ---------------------------------------------------------------- from Cassandra

def read_catalogue(session: Session, keyspace: str, marker: dict) -> Catalogue:
    rows = session.execute(f"SELECT videoid, content_features FROM {keyspace}.videos",
                           timeout=120)
    pairs = sorted(((r.videoid, r.content_features) for r in rows
                    if r.content_features is not None), key=lambda p: p[0].bytes)
    ids = [p[0] for p in pairs]
    vectors = retrieval.unit_rows(np.stack([np.asarray(p[1], dtype=np.float32) for p in pairs]))
    return Catalogue(keyspace, ids, vectors, {v: i for i, v in enumerate(ids)}, marker)


def read_viewers(session: Session, keyspace: str) -> list[Viewer]:
    """The bench's viewers (those with a stored preference vector), with their whole
    history (watched or hidden: both are excluded by our feed and by the PR)."""
    profiles = sorted(seed.load_user_vectors(session, keyspace), key=lambda p: p[0].bytes)
    statement = session.prepare(f"SELECT videoid FROM {keyspace}.viewer_history WHERE userid = ?")
    results = execute_concurrent_with_args(session, statement, [(u,) for u, _ in profiles],
                                           concurrency=16)
    viewers = []
    for (user, profile), (ok, rows) in zip(profiles, results):
        if not ok:
            raise RuntimeError(f"history of {user}: {rows!r}")
        history = [r.videoid for r in rows if r.videoid is not None]
        viewers.append(Viewer(user, profile, history, keyspace))
    return viewers


# ---------------------------------------------------------------- long-history viewers

def long_viewers(catalogue: Catalogue, lengths: list[int]) -> list[Viewer]:
    """Deterministic heavy viewers (bench/retrieval.long_history); their preference
    vector is the unit mean of what they watched, as the bench seed builds it."""
    out = []
    for length in lengths:
        rng = np.random.default_rng([LONG_SEED, length])
        rows = retrieval.long_history(rng, catalogue.vectors, length)
        profile = retrieval.unit_rows(catalogue.vectors[rows].astype(np.float64).mean(axis=0))
        user = uuid.uuid5(uuid.NAMESPACE_URL,
                          f"killrvideo-reco/bench/pgvector/{catalogue.keyspace}/long/{length}")
        out.append(Viewer(user, profile.astype(np.float32),
                          [catalogue.ids[i] for i in rows], LONG_KEYSPACE, long=True))
    return out


def write_long_histories(session: Session, viewers: list[Viewer], log) -> float:
    """Their history rows in keyspace bench_pg_long (the project's schema), so that our
    exclusion (ViewerStore.seen_among) runs against a real partition of that length."""
    started = time.perf_counter()
    apply_migrations(session, seed.bench_settings(LONG_KEYSPACE))
    statement = session.prepare(
        f"INSERT INTO {LONG_KEYSPACE}.viewer_history (userid, videoid, first_watched, "
        "last_watched, play_count) VALUES (?, ?, ?, ?, 1)")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    rows = [(v.user_id, video, now - timedelta(minutes=len(v.history) - k),
             now - timedelta(minutes=len(v.history) - k))
            for v in viewers for k, video in enumerate(v.history)]
    seed.write_concurrently(session, statement, rows, f"history {LONG_KEYSPACE}")
    log(f"{LONG_KEYSPACE}: {len(rows)} history rows for {len(viewers)} long-history viewers")
    return time.perf_counter() - started


def drop_long_keyspace(session: Session) -> None:
    session.execute(f"DROP KEYSPACE IF EXISTS {LONG_KEYSPACE}", timeout=120)


# ---------------------------------------------------------------- PostgreSQL

def start_postgres(log):
    """A pgserver PostgreSQL on a unix socket in PG_DIR (no TCP listener), stopped when
    this process exits. Restarted once if a PG_SERVER_SETTINGS value needs it."""
    import pgserver
    import psycopg
    from pgserver._commands import pg_ctl
    from pgserver.utils import PostmasterInfo

    PG_DIR.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(PG_DIR, cleanup_mode="stop")
    changed = []
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        for name, value in PG_SERVER_SETTINGS.items():
            if conn.execute(f"SHOW {name}").fetchone()[0] != value:
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
                changed.append(name)
    if changed:  # shared_buffers only changes at a restart
        log(f"postgres: restarting for {changed}")
        pg_ctl(["-w", "-l", str(server.log), "restart"], pgdata=server.pgdata,
               user=server.system_user, timeout=60)
        # pgserver stops the server it knows at exit: tell it about the new postmaster.
        server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)
    return server


def postmaster_pid(server) -> int:
    return server.get_postmaster_info().pid


def database_uri(server, keyspace: str) -> str:
    """One database per catalogue, named like the Cassandra keyspace it copies."""
    import psycopg

    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (keyspace,)).fetchone():
            conn.execute(f'CREATE DATABASE "{keyspace}"')
    return server.get_uri(keyspace)


def schema(dim: int) -> list[str]:
    return ["CREATE EXTENSION IF NOT EXISTS vector",
            f"CREATE TABLE IF NOT EXISTS videos (videoid uuid PRIMARY KEY, "
            f"embedding vector({dim}) NOT NULL)",
            "CREATE TABLE IF NOT EXISTS viewer_history (userid uuid, videoid uuid, "
            "PRIMARY KEY (userid, videoid))",
            "CREATE TABLE IF NOT EXISTS bench_meta (name text PRIMARY KEY, value text)"]


def _history_digest(viewers: list[Viewer]) -> str:
    h = hashlib.sha256()
    for pair in sorted((v.user_id.bytes, w.bytes) for v in viewers for w in v.history_set):
        h.update(pair[0] + pair[1])
    return h.hexdigest()


def load_postgres(uri: str, catalogue: Catalogue, viewers: list[Viewer], log) -> dict:
    """Make the database hold exactly this catalogue (with its HNSW index) and these
    histories; each part is reloaded only when its digest changed. Returns timings."""
    import psycopg

    dim = catalogue.vectors.shape[1]
    wanted_videos = f"{catalogue.digest} m={HNSW_M} ef_construction={HNSW_EF_CONSTRUCTION}"
    wanted_history = _history_digest(viewers)
    out: dict = {"videos_cached": True, "history_cached": True}
    with psycopg.connect(uri, autocommit=True) as conn:
        for statement in schema(dim):
            conn.execute(statement)
        meta = dict(conn.execute("SELECT name, value FROM bench_meta").fetchall())
        if meta.get("videos") != wanted_videos:
            out["videos_cached"] = False
            t = time.perf_counter()
            conn.execute("DROP INDEX IF EXISTS videos_embedding_hnsw")
            conn.execute("TRUNCATE videos")
            payload = memoryview(retrieval.binary_copy_payload(catalogue.ids, catalogue.vectors))
            with conn.cursor().copy("COPY videos (videoid, embedding) FROM STDIN "
                                    "(FORMAT binary)") as copy:
                for start in range(0, len(payload), 8 << 20):
                    copy.write(payload[start:start + (8 << 20)])
            conn.execute("VACUUM ANALYZE videos")
            out["copy_videos_s"] = time.perf_counter() - t
            t = time.perf_counter()
            conn.execute("SET maintenance_work_mem = '1GB'")
            conn.execute("SET max_parallel_maintenance_workers = 1")  # 2 shared cores
            conn.execute(f"CREATE INDEX videos_embedding_hnsw ON videos USING hnsw "
                         f"(embedding vector_cosine_ops) WITH (m = {HNSW_M}, "
                         f"ef_construction = {HNSW_EF_CONSTRUCTION})")
            out["index_build_s"] = time.perf_counter() - t
            conn.execute("INSERT INTO bench_meta VALUES ('videos', %s) ON CONFLICT (name) "
                         "DO UPDATE SET value = excluded.value", (wanted_videos,))
            log(f"postgres {catalogue.keyspace}: {len(catalogue.ids)} videos copied in "
                f"{out['copy_videos_s']:.1f}s, HNSW index built in {out['index_build_s']:.1f}s")
        if meta.get("history") != wanted_history:
            out["history_cached"] = False
            t = time.perf_counter()
            conn.execute("TRUNCATE viewer_history")
            with conn.cursor().copy("COPY viewer_history (userid, videoid) FROM STDIN") as copy:
                for v in viewers:
                    copy.write("".join(f"{v.user_id}\t{w}\n" for w in v.history_set))
            conn.execute("VACUUM ANALYZE viewer_history")
            conn.execute("INSERT INTO bench_meta VALUES ('history', %s) ON CONFLICT (name) "
                         "DO UPDATE SET value = excluded.value", (wanted_history,))
            out["copy_history_s"] = time.perf_counter() - t
            log(f"postgres {catalogue.keyspace}: history of {len(viewers)} viewers copied in "
                f"{out['copy_history_s']:.1f}s")
        out["table_mb"] = conn.execute(
            "SELECT pg_relation_size('videos') / 1048576.0").fetchone()[0]
        out["index_mb"] = conn.execute(
            "SELECT pg_relation_size('videos_embedding_hnsw') / 1048576.0").fetchone()[0]
        out["table_mb"], out["index_mb"] = float(out["table_mb"]), float(out["index_mb"])
        out["versions"] = {
            "postgres": conn.execute("SHOW server_version").fetchone()[0],
            "pgvector": conn.execute("SELECT extversion FROM pg_extension "
                                     "WHERE extname = 'vector'").fetchone()[0],
            "shared_buffers": conn.execute("SHOW shared_buffers").fetchone()[0],
            "jit": conn.execute("SHOW jit").fetchone()[0]}
    return out
