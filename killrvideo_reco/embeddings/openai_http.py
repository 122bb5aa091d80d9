"""Embeddings from an OpenAI-compatible HTTP endpoint (OpenAI itself, or a local server
such as llama.cpp, vLLM, Ollama or text-embeddings-inference), standard library only.

``POST {base_url}/embeddings`` with ``{"model": ..., "input": [...]}`` (plus
``"dimensions"`` for models that accept it), ``Authorization: Bearer <key>`` when a key
is set. Inputs go in batches of ``batch_size``; each request has a ``timeout_s`` bound.
Any failure (connection, timeout, HTTP status, malformed body, wrong count or
dimension) raises :class:`EmbeddingError` with a message saying what went wrong; the
caller decides whether to retry. Returned rows are re-normalised to unit length.
"""
from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any, Sequence

import numpy as np

from killrvideo_reco.domain.vectors import unit_rows
from killrvideo_reco.embeddings.provider import EmbeddingError

_BODY_SNIPPET = 300


def _default_send_dimensions(model: str) -> bool:
    # OpenAI's text-embedding-3-* accept "dimensions"; older models and many local
    # servers reject the field, so it is only sent when known to be understood.
    return model.startswith("text-embedding-3")


class OpenAIHTTPProvider:
    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        dimension: int,
        api_key: str = "",
        timeout_s: float = 30.0,
        batch_size: int = 64,
        model_id: str | None = None,
        send_dimensions: bool | None = None,
    ) -> None:
        if not base_url:
            raise EmbeddingError("openai embeddings: base_url is empty (set OPENAI_BASE_URL)")
        if not model:
            raise EmbeddingError("openai embeddings: model is empty (set OPENAI_MODEL)")
        if dimension < 1:
            raise EmbeddingError(f"openai embeddings: dimension must be >= 1, got {dimension}")
        if timeout_s <= 0:
            raise EmbeddingError(f"openai embeddings: timeout must be > 0, got {timeout_s}")
        if batch_size < 1:
            raise EmbeddingError(f"openai embeddings: batch_size must be >= 1, got {batch_size}")
        self.url = base_url.rstrip("/") + "/embeddings"
        self.model = model
        self.dimension = int(dimension)
        self.api_key = api_key
        self.timeout_s = float(timeout_s)
        self.batch_size = batch_size
        self.send_dimensions = (
            _default_send_dimensions(model) if send_dimensions is None else send_dimensions
        )
        self.model_id = model_id or f"openai:{model}:{self.dimension}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a single string")
        texts = list(texts)
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"embed() needs strings, got {type(text).__name__}")
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            out[start : start + len(batch)] = self._embed_batch(batch)
        return out

    # ------------------------------------------------------------------------------
    def _embed_batch(self, batch: list[str]) -> np.ndarray:
        payload: dict[str, Any] = {"model": self.model, "input": batch}
        if self.send_dimensions:
            payload["dimensions"] = self.dimension
        body = self._post(payload)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise EmbeddingError(f"{self._where()}: response has no 'data' list: {_snippet(body)}")
        if len(data) != len(batch):
            raise EmbeddingError(
                f"{self._where()}: asked for {len(batch)} embeddings, got {len(data)}"
            )
        rows: list[Any] = [None] * len(batch)
        for position, item in enumerate(data):
            if not isinstance(item, dict) or "embedding" not in item:
                raise EmbeddingError(f"{self._where()}: data[{position}] has no 'embedding'")
            index = item.get("index", position)
            if not isinstance(index, int) or not 0 <= index < len(batch) or rows[index] is not None:
                raise EmbeddingError(f"{self._where()}: data[{position}] has a bad index {index!r}")
            rows[index] = item["embedding"]
        try:
            matrix = np.asarray(rows, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise EmbeddingError(f"{self._where()}: embeddings are not numeric vectors of one size") from exc
        if matrix.ndim != 2 or matrix.shape[1] != self.dimension:
            got = matrix.shape[1] if matrix.ndim == 2 else "ragged/scalar"
            raise EmbeddingError(
                f"{self._where()}: model {self.model!r} returned {got}-dimensional vectors but "
                f"vector_dimension is {self.dimension}; set VECTOR_DIMENSION to the model's size "
                "(and recreate the vector tables) or pick a model that produces that size"
            )
        if not np.isfinite(matrix).all():
            raise EmbeddingError(f"{self._where()}: response contains NaN or infinite values")
        if (np.linalg.norm(matrix, axis=1) == 0).any():
            raise EmbeddingError(f"{self._where()}: response contains an all-zero vector")
        return unit_rows(matrix, floor=1e-12)  # float32 in, float32 out

    def _post(self, payload: dict[str, Any]) -> Any:
        data = json.dumps(payload).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = _read_error_body(exc)
            raise EmbeddingError(
                f"{self._where()}: HTTP {exc.code} {exc.reason}: {detail}"
            ) from exc
        except (TimeoutError, socket.timeout) as exc:
            raise EmbeddingError(f"{self._where()}: no answer within {self.timeout_s:g}s") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                raise EmbeddingError(f"{self._where()}: no answer within {self.timeout_s:g}s") from exc
            raise EmbeddingError(f"{self._where()}: cannot connect: {exc.reason}") from exc
        except (OSError, ValueError) as exc:  # reset connections, bad URLs
            raise EmbeddingError(f"{self._where()}: request failed: {exc}") from exc
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise EmbeddingError(f"{self._where()}: response is not JSON: {_snippet(raw)}") from exc

    def _where(self) -> str:
        return f"openai embeddings at {self.url}"


def _read_error_body(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read()
    except Exception:  # noqa: BLE001 - best effort only
        return "(no body)"
    try:
        body = json.loads(raw)
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            return str(body["error"].get("message") or body["error"])[:_BODY_SNIPPET]
    except ValueError:
        pass
    return _snippet(raw)


def _snippet(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = value if isinstance(value, str) else repr(value)
    return text[:_BODY_SNIPPET] + ("..." if len(text) > _BODY_SNIPPET else "")
