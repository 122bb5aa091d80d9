from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from killrvideo_reco.embeddings.hashing import HashingProvider
from killrvideo_reco.embeddings.provider import EmbeddingError, EmbeddingProvider

TEXTS = ["Funny cats compilation", "funny CATS compilation!", "Quantum physics lecture", "", "猫 動画"]


def test_shape_dtype_norm_and_protocol() -> None:
    p = HashingProvider(dimension=64)
    assert isinstance(p, EmbeddingProvider)
    assert p.model_id == "hashing-v1:64"
    vecs = p.embed(TEXTS)
    assert vecs.shape == (len(TEXTS), 64)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-6)
    assert p.embed([]).shape == (0, 64)


def test_deterministic_within_and_across_processes() -> None:
    p = HashingProvider(dimension=384)
    first = p.embed(TEXTS)
    np.testing.assert_array_equal(first, HashingProvider(dimension=384).embed(TEXTS))
    np.testing.assert_array_equal(first[2], p.embed([TEXTS[2]])[0])
    # another interpreter (different hash seed) gives the same bits
    code = (
        "from killrvideo_reco.embeddings.hashing import HashingProvider;"
        "import sys;"
        " sys.stdout.write(HashingProvider(384).embed(['Quantum physics lecture']).tobytes().hex())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={"PYTHONHASHSEED": "12345", "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    ).stdout
    assert bytes.fromhex(out) == first[2].tobytes()


def test_lexical_overlap_and_case_insensitivity() -> None:
    a, b, c = HashingProvider(256).embed(TEXTS[:3])
    assert float(a @ b) == pytest.approx(1.0, abs=1e-6)  # same words, case and punctuation differ
    assert float(a @ c) < 0.5


def test_dimension_and_model_id_override() -> None:
    assert HashingProvider(8, model_id="custom").model_id == "custom"
    with pytest.raises(EmbeddingError):
        HashingProvider(1)
    with pytest.raises(TypeError):
        HashingProvider(8).embed("not a list")  # type: ignore[arg-type]
