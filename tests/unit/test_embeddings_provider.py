from __future__ import annotations

import pytest

from killrvideo_reco.embeddings.factory import build_provider
from killrvideo_reco.embeddings.hashing import HashingProvider
from killrvideo_reco.embeddings.minilm import MiniLMProvider
from killrvideo_reco.embeddings.openai_http import OpenAIHTTPProvider
from killrvideo_reco.embeddings.provider import EmbeddingError, video_text
from killrvideo_reco.settings import Settings


def test_video_text_is_title_description_sorted_tags() -> None:
    assert video_text("Cats", "Funny  cats\nbeing cats", ["pets", "cats", " pets "]) == (
        "Cats\nFunny cats being cats\ntags: cats, pets"
    )
    assert video_text("Cats", "", {"b", "a"}) == "Cats\ntags: a, b"
    assert video_text("  Only title ", "", []) == "Only title"
    assert video_text("", "", []) == ""
    # tag order never changes the text
    assert video_text("t", "d", ["x", "y", "z"]) == video_text("t", "d", ("z", "x", "y"))


def test_build_minilm_default_is_lazy() -> None:
    p = build_provider(Settings())
    assert isinstance(p, MiniLMProvider)
    assert p.dimension == 384 and p.model_id.startswith("all-MiniLM-L6-v2@gt-")
    assert p._encoder is None  # nothing loaded until the first embed


def test_build_minilm_rejects_another_dimension() -> None:
    with pytest.raises(EmbeddingError, match="384"):
        build_provider(Settings(vector_dimension=768))


def test_build_openai_and_hashing_with_model_id_override() -> None:
    p = build_provider(
        Settings(
            embedding_provider="openai",
            vector_dimension=1536,
            openai_base_url="http://127.0.0.1:9/v1",
            openai_api_key="k",
            openai_timeout_s=3,
        )
    )
    assert isinstance(p, OpenAIHTTPProvider)
    assert p.model_id == "openai:text-embedding-3-small:1536"
    assert p.url == "http://127.0.0.1:9/v1/embeddings" and p.timeout_s == 3 and p.api_key == "k"
    h = build_provider(Settings(embedding_provider="hashing", vector_dimension=64, embedding_model_id="mine"))
    assert isinstance(h, HashingProvider)
    assert (h.model_id, h.dimension) == ("mine", 64)
