"""Checks a vector must pass before it is stored or used as an ANN query."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class InvalidVector(ValueError):
    pass


def checked_vector(values: Sequence[float] | np.ndarray, dimension: int) -> np.ndarray:
    """float32 copy of `values`, or InvalidVector saying exactly what is wrong."""
    vector = np.asarray(values, dtype=np.float64)
    if vector.ndim != 1:
        raise InvalidVector("content_features must be a flat list of numbers")
    if vector.shape[0] != dimension:
        raise InvalidVector(f"content_features has {vector.shape[0]} dimensions; "
                            f"the index expects {dimension}")
    bad = np.flatnonzero(~np.isfinite(vector))
    if bad.size:
        raise InvalidVector(f"content_features has NaN or infinite values "
                            f"(first at index {int(bad[0])})")
    if not np.any(vector):
        raise InvalidVector("content_features is all zeros; cosine similarity is undefined for it")
    if np.any(np.abs(vector) > np.finfo(np.float32).max):
        raise InvalidVector("content_features has values too large for float32")
    return vector.astype(np.float32)


def unit_rows(matrix: np.ndarray, floor: float | None = None) -> np.ndarray:
    """Each row scaled to unit length, in the matrix's dtype: the one L2 row normaliser.

    Without `floor`, rows with no direction (norm <= 1e-12) become zero. With it, each
    row is divided by max(norm, floor), as the callers that passed it always did: an
    all-zero row stays zero for floor > 0, and gives NaN for floor=0 (plain division,
    for inputs whose rows are already unit)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if floor is not None:
        return matrix / np.maximum(norms, floor)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 1e-12)
