"""Builds the configured embedding provider. Kept apart from provider.py, which the
implementations import, so the package has no import circle."""
from __future__ import annotations

from killrvideo_reco.embeddings.hashing import HashingProvider
from killrvideo_reco.embeddings.provider import EmbeddingError, EmbeddingProvider
from killrvideo_reco.settings import Settings


def build_provider(settings: Settings) -> EmbeddingProvider:
    """Build the provider named by ``settings.embedding_provider``.

    ``settings.embedding_model_id``, when set, replaces the provider's own model id.
    ``settings.vector_dimension`` must match the provider's output dimension.
    """
    kind = settings.embedding_provider
    override = (settings.embedding_model_id or "").strip() or None
    dimension = int(settings.vector_dimension)
    provider: EmbeddingProvider
    if kind == "minilm":
        from killrvideo_reco.embeddings.minilm import MiniLMProvider

        if dimension != MiniLMProvider.DIMENSION:
            raise EmbeddingError(
                f"embedding_provider=minilm produces {MiniLMProvider.DIMENSION}-d vectors "
                f"but vector_dimension={dimension}; set VECTOR_DIMENSION="
                f"{MiniLMProvider.DIMENSION} or choose another provider"
            )
        provider = MiniLMProvider(model_id=override)
    elif kind == "openai":
        from killrvideo_reco.embeddings.openai_http import OpenAIHTTPProvider

        provider = OpenAIHTTPProvider(
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,
            model=settings.openai_model,
            dimension=dimension,
            timeout_s=settings.openai_timeout_s,
            model_id=override,
        )
    elif kind == "hashing":
        provider = HashingProvider(dimension=dimension, model_id=override)
    else:
        raise EmbeddingError(
            f"unknown embedding_provider {kind!r}; expected 'minilm', 'openai' or 'hashing'"
        )
    return provider
