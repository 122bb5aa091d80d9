"""The OpenAI-compatible provider against a stub server on 127.0.0.1 (ephemeral port)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import numpy as np
import pytest

from killrvideo_reco.embeddings.openai_http import OpenAIHTTPProvider
from killrvideo_reco.embeddings.provider import EmbeddingError, EmbeddingProvider


class Stub:
    """What the stub answers next, and what it received."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.dimension = 8
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()  # ends a 'hang' early at teardown

    def vector(self, text: str) -> list[float]:
        # deterministic, unnormalised, depends on the text
        seed = sum(text.encode("utf-8")) + len(text)
        return [float((seed * (i + 3)) % 17 + 1) for i in range(self.dimension)]


def _make_handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, body: Any) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:  # noqa: N802 - http.server API
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            stub.requests.append(
                {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
            )
            if stub.mode == "hang":
                stub.release.wait(10)
                return
            if stub.mode == "500":
                self._send(500, {"error": {"message": "model overloaded", "type": "server_error"}})
                return
            if stub.mode == "garbage":
                raw = b"<html>not json</html>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
                return
            texts = body["input"]
            data = [
                {"object": "embedding", "index": i, "embedding": stub.vector(t)}
                for i, t in enumerate(texts)
            ]
            data.reverse()  # servers may answer out of order; 'index' says where each goes
            if stub.mode == "short":
                data = data[:-1]
            self._send(
                200,
                {
                    "object": "list",
                    "data": data,
                    "model": body["model"],
                    "usage": {"prompt_tokens": 3, "total_tokens": 3},
                },
            )

    return Handler


@pytest.fixture(autouse=True)
def _no_proxy_for_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")


@pytest.fixture()
def server() -> Iterator[tuple[Stub, str]]:
    stub = Stub()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(stub))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield stub, f"http://127.0.0.1:{httpd.server_address[1]}/v1/"
    finally:
        stub.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def make(url: str, **kw: Any) -> OpenAIHTTPProvider:
    args: dict[str, Any] = dict(base_url=url, model="text-embedding-3-small", dimension=8, timeout_s=5)
    args.update(kw)
    return OpenAIHTTPProvider(**args)


def test_success_batches_order_and_normalisation(server: tuple[Stub, str]) -> None:
    stub, url = server
    p = make(url, batch_size=2)
    assert isinstance(p, EmbeddingProvider)
    assert p.model_id == "openai:text-embedding-3-small:8"
    texts = ["alpha", "beta", "gamma", "delta", "épsilon"]
    vecs = p.embed(texts)
    assert vecs.shape == (5, 8) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-6)
    expected = np.array([stub.vector(t) for t in texts], dtype=np.float64)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(vecs, expected, atol=1e-6)  # in input order despite reversed data
    assert [r["body"]["input"] for r in stub.requests] == [["alpha", "beta"], ["gamma", "delta"], ["épsilon"]]
    assert all(r["path"] == "/v1/embeddings" for r in stub.requests)
    assert all(r["body"]["model"] == "text-embedding-3-small" for r in stub.requests)
    assert all(r["body"]["dimensions"] == 8 for r in stub.requests)
    assert p.embed([]).shape == (0, 8)
    assert len(stub.requests) == 3  # no request for an empty input


def test_auth_header_sent_only_with_a_key(server: tuple[Stub, str]) -> None:
    stub, url = server
    make(url, api_key="sk-test-123").embed(["x"])
    make(url).embed(["x"])
    assert stub.requests[0]["auth"] == "Bearer sk-test-123"
    assert stub.requests[1]["auth"] is None


def test_dimensions_field_only_for_models_that_take_it(server: tuple[Stub, str]) -> None:
    stub, url = server
    make(url, model="nomic-embed-text").embed(["x"])
    make(url, model="nomic-embed-text", send_dimensions=True).embed(["x"])
    assert "dimensions" not in stub.requests[0]["body"]
    assert stub.requests[1]["body"]["dimensions"] == 8


def test_wrong_dimension_is_a_clear_error(server: tuple[Stub, str]) -> None:
    stub, url = server
    stub.dimension = 12
    with pytest.raises(EmbeddingError, match=r"returned 12-dimensional vectors but vector_dimension is 8"):
        make(url).embed(["x", "y"])


def test_http_500_is_an_embedding_error(server: tuple[Stub, str]) -> None:
    stub, url = server
    stub.mode = "500"
    with pytest.raises(EmbeddingError, match=r"HTTP 500.*model overloaded"):
        make(url).embed(["x"])


@pytest.mark.parametrize(
    "mode, message", [("garbage", "not JSON"), ("short", "asked for 2 embeddings, got 1")]
)
def test_malformed_responses(server: tuple[Stub, str], mode: str, message: str) -> None:
    stub, url = server
    stub.mode = mode
    with pytest.raises(EmbeddingError, match=message):
        make(url).embed(["x", "y"])


def test_timeout_is_bounded(server: tuple[Stub, str]) -> None:
    stub, url = server
    stub.mode = "hang"
    started = time.monotonic()
    with pytest.raises(EmbeddingError, match=r"no answer within 0.3s"):
        make(url, timeout_s=0.3).embed(["x"])
    assert time.monotonic() - started < 3.0


def test_connection_refused_is_an_embedding_error() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(EmbeddingError, match="cannot connect"):
        make(f"http://127.0.0.1:{port}/v1", timeout_s=2).embed(["x"])


def test_bad_configuration() -> None:
    with pytest.raises(EmbeddingError, match="base_url"):
        OpenAIHTTPProvider(base_url="", model="m", dimension=8)
    with pytest.raises(EmbeddingError, match="dimension"):
        OpenAIHTTPProvider(base_url="http://127.0.0.1:1", model="m", dimension=0)
