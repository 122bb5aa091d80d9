"""The behaviour space: how learned vectors are stored, searched and ranked. Pure numpy.

Factor models score a (viewer, video) pair by the inner product q.x, but the vector index
offers cosine. Bachrach et al. (2014): with M >= every |x|, store x' = [x, sqrt(M^2 - |x|^2)] / M
(unit length) and query with q' = [q, 0] / |q|; then cos(q', x') = q.x / (M |q|), so the
cosine order is exactly the inner-product order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SLOTS = ("a", "b")


def other_slot(slot: str) -> str:
    return "b" if slot == "a" else "a"


def behaviour_space(slot: str) -> str:
    """The `space` key of a run's neighbour lists: per slot, like its vectors, so a retrain
    writes the idle slot's lists and the switch flips lists and vectors together."""
    return f"behaviour {slot}"


def max_norm(item_vectors: np.ndarray) -> float:
    norms = np.linalg.norm(np.asarray(item_vectors, dtype=np.float64), axis=1)
    return float(norms.max()) if norms.size and norms.max() > 0 else 1.0


def index_vectors(item_vectors: np.ndarray, bound: float) -> np.ndarray:
    """Items -> unit vectors with one extra dimension (rows longer than `bound` are
    shortened to it, which only happens to vectors predicted for new videos)."""
    x = np.atleast_2d(np.asarray(item_vectors, dtype=np.float64))
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x * np.minimum(1.0, bound / np.maximum(norms, 1e-12))
    extra = np.sqrt(np.maximum(bound ** 2 - np.sum(x * x, axis=1, keepdims=True), 0.0))
    return (np.hstack([x, extra]) / bound).astype(np.float32)


def query_vector(viewer_vector: np.ndarray) -> np.ndarray | None:
    """A viewer's behaviour vector as an index query; None when it has no direction."""
    q = np.asarray(viewer_vector, dtype=np.float64)
    norm = float(np.linalg.norm(q))
    if not math.isfinite(norm) or norm < 1e-9:
        return None
    return np.append(q / norm, 0.0).astype(np.float32)


def viewer_query(viewer_vector: np.ndarray, run) -> np.ndarray | None:
    """A viewer's stored behaviour vector (a running sum of item vectors) as the run's
    index query. ALS runs carry (Y^T Y + lambda I)^-1: the sum times it approximates
    ALS's own user factor, which scores better than the plain sum (evaluation/
    als_query_study.py), while the stored vector stays a sum one view updates."""
    if run is not None and run.query_map:
        viewer_vector = matrix_from_bytes(run.query_map) @ np.asarray(viewer_vector, np.float64)
    return query_vector(viewer_vector)


def matrix_to_bytes(matrix: np.ndarray) -> bytes:
    rows, cols = matrix.shape
    return np.array([rows, cols], dtype="<i4").tobytes() + np.asarray(matrix, "<f4").tobytes()


def matrix_from_bytes(blob: bytes) -> np.ndarray:
    rows, cols = np.frombuffer(blob[:8], dtype="<i4")
    return np.frombuffer(blob[8:], dtype="<f4").reshape(rows, cols).astype(np.float64)


@dataclass(frozen=True)
class ContentMap:
    """Ridge regression from content embeddings to behaviour vectors, for new videos."""
    weights: np.ndarray  # (content_dim + 1, behaviour_dim); last row is the intercept

    def predict(self, content: np.ndarray) -> np.ndarray:
        c = np.atleast_2d(np.asarray(content, dtype=np.float64))
        return (np.hstack([c, np.ones((c.shape[0], 1))]) @ self.weights).astype(np.float32)

    def to_bytes(self) -> bytes:
        rows, cols = self.weights.shape
        return np.array([rows, cols], dtype="<i4").tobytes() + \
            np.asarray(self.weights, dtype="<f4").tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> "ContentMap":
        rows, cols = np.frombuffer(blob[:8], dtype="<i4")
        return cls(np.frombuffer(blob[8:], dtype="<f4").reshape(rows, cols).astype(np.float64))


def raw_vector(index_vector: np.ndarray, bound: float) -> np.ndarray:
    """The stored unit index vector back to the model's raw vector (inverse transform)."""
    return np.asarray(index_vector, dtype=np.float64)[:-1] * bound


def video_behaviour(facts_behaviour: dict, run) -> np.ndarray | None:
    """A video's raw vector in exactly this run, None if it has none there."""
    if run is None or run.slot not in facts_behaviour:
        return None
    run_id, vector = facts_behaviour[run.slot]
    return raw_vector(vector, run.max_norm) if run_id == run.run_id else None
