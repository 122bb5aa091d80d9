"""The embedding-provider contract and the text we embed for a video (the factory that
builds a provider from settings is embeddings/factory.py).

Every provider turns a batch of strings into a ``(n, dimension)`` float32 matrix whose
rows are unit-normalised, so cosine similarity is a plain dot product. ``model_id`` is
recorded next to every stored vector: vectors with different ids must never be compared.
"""
from __future__ import annotations

import re
from typing import Iterable, Protocol, Sequence, runtime_checkable

import numpy as np

__all__ = [
    "EmbeddingError",
    "EmbeddingProvider",
    "video_text",
]


class EmbeddingError(Exception):
    """Embeddings could not be produced (missing model files, a failed or malformed
    HTTP response, a dimension mismatch...). The message says what and why."""


@runtime_checkable
class EmbeddingProvider(Protocol):
    model_id: str
    """Recorded on every stored vector, e.g. ``all-MiniLM-L6-v2@gt-0.1.0``."""
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return a ``(len(texts), dimension)`` float32 array of unit-normalised rows."""
        ...


_WS = re.compile(r"\s+")


def _clean(value: str) -> str:
    return _WS.sub(" ", value or "").strip()


def video_text(title: str, description: str, tags: Iterable[str]) -> str:
    """The text embedded for a video: title, description, then the tags sorted.

    Whitespace is collapsed and empty parts are dropped, so the result is stable for
    the same video whatever order its tags come in (sets, lists, query results)::

        video_text("Cats", "Funny  cats", ["pets", "cats"])
        == "Cats\\nFunny cats\\ntags: cats, pets"
    """
    parts = [_clean(title), _clean(description)]
    clean_tags = sorted({_clean(t) for t in (tags or ()) if _clean(t)})
    if clean_tags:
        parts.append("tags: " + ", ".join(clean_tags))
    return "\n".join(p for p in parts if p)


