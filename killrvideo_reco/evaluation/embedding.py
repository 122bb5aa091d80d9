"""Movie texts and their embeddings, cached on disk so a second run skips the model.

The cache key covers everything the vectors depend on: the provider's model id, the
bytes of movies.csv and tags.csv, and TEXT_VERSION (bump it when the text changes).
"""
from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import numpy as np

from killrvideo_reco.embeddings.provider import EmbeddingProvider, video_text
from killrvideo_reco.evaluation.data import Movie, genres_text
from killrvideo_reco.jobs.progress import Progress

log = logging.getLogger(__name__)
TEXT_VERSION = "title+genres+tags-v1"
BATCH = 256


def movie_text(movie: Movie) -> str:
    return video_text(movie.title, genres_text(movie), movie.tags)


def cache_key(model_id: str, data_dir: Path) -> str:
    digest = hashlib.sha256(f"{model_id}\n{TEXT_VERSION}\n".encode())
    for name in ("movies.csv", "tags.csv"):
        path = Path(data_dir) / name
        digest.update(name.encode() + (path.read_bytes() if path.exists() else b"<none>"))
    return digest.hexdigest()[:24]


def embed_movies(provider: EmbeddingProvider, movies: list[Movie], data_dir: Path,
                 cache_dir: Path | None) -> tuple[np.ndarray, bool, float]:
    """Vectors in `movies` order, whether they came from the cache, and the seconds the
    embedding took (on a cache hit: when the cache was written)."""
    started = time.monotonic()
    ids = np.array([m.movie_id for m in movies], dtype=np.int64)
    path = None
    if cache_dir is not None:
        safe_model = "".join(c if c.isalnum() or c in "-_." else "_" for c in provider.model_id)
        path = Path(cache_dir) / f"eval-embeddings-{safe_model}-{cache_key(provider.model_id, data_dir)}.npz"
        if path.exists():
            saved = np.load(path)
            if np.array_equal(saved["ids"], ids):
                # The seconds the embedding took when the cache was written.
                took = float(saved["seconds"]) if "seconds" in saved.files else float("nan")
                return saved["vectors"], True, took
            log.warning("embedding cache %s is for other movies; re-embedding", path)
    texts = [movie_text(m) for m in movies]
    progress = Progress("embedding", len(texts), item_name="movies")
    parts = []
    for start in range(0, len(texts), BATCH):
        parts.append(provider.embed(texts[start:start + BATCH]))
        progress.advance(steps=len(parts[-1]), items=len(parts[-1]))
    vectors = np.concatenate(parts).astype(np.float32) if parts else np.zeros(
        (0, provider.dimension), np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, ids=ids, vectors=vectors, seconds=time.monotonic() - started)
        tmp.replace(path)  # atomic: an interrupted run never leaves half a cache
    return vectors, False, time.monotonic() - started
