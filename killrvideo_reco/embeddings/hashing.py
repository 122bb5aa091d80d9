"""A deterministic feature-hashing "embedding", for fast tests and benchmarks only.

THIS IS NOT A SEMANTIC MODEL. It hashes lower-cased word unigrams and bigrams into
``dimension`` signed buckets and L2-normalises the result, so texts that share words
come out similar and texts that share none come out near-orthogonal; synonyms,
paraphrases and other languages are not recognised at all. Use it where a real model
would be slow or unavailable (unit tests, load tests, benchmarks of the store and the
feed), never to serve real recommendations.

The hash is blake2b (not Python's salted ``hash``), so vectors are identical across
processes, machines and Python versions. The model id is ``hashing-v1:<dimension>``.
"""
from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Sequence

import numpy as np

from killrvideo_reco.embeddings.provider import EmbeddingError

_WORD = re.compile(r"\w+", re.UNICODE)
_BIGRAM_WEIGHT = 0.5
_EMPTY_FEATURE = "\x00empty"


@lru_cache(maxsize=65536)
def _bucket(feature: str, dimension: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return (value >> 1) % dimension, (1.0 if value & 1 else -1.0)


def features(text: str) -> list[tuple[str, float]]:
    """The weighted features of a text: unigrams (1.0) and bigrams (0.5)."""
    words = _WORD.findall(text.casefold())
    feats = [(w, 1.0) for w in words]
    feats += [(f"{a} {b}", _BIGRAM_WEIGHT) for a, b in zip(words, words[1:])]
    return feats or [(_EMPTY_FEATURE, 1.0)]


class HashingProvider:
    """Signed feature hashing of word unigrams and bigrams (see the module docstring:
    not a semantic model)."""

    def __init__(self, dimension: int = 384, *, model_id: str | None = None) -> None:
        if dimension < 2:
            raise EmbeddingError(f"hashing provider needs dimension >= 2, got {dimension}")
        self.dimension = int(dimension)
        self.model_id = model_id or f"hashing-v1:{self.dimension}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a single string")
        texts = list(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"embed() needs strings, got {type(text).__name__}")
            vec = out[row]
            for feature, weight in features(text):
                index, sign = _bucket(feature, self.dimension)
                vec[index] += sign * weight
            norm = float(np.linalg.norm(vec))
            if norm == 0.0:  # every feature cancelled out: fall back to a fixed unit vector
                index, sign = _bucket(_EMPTY_FEATURE, self.dimension)
                vec[index] = sign
            else:
                vec /= norm
        return out
