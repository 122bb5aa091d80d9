"""A BERT encoder forward pass in numpy (float32), enough for sentence-transformers
models such as all-MiniLM-L6-v2: absolute position embeddings, post-layernorm blocks,
exact (erf) GELU, mean pooling over the attention mask.

Weights come from a Hugging Face ``model.safetensors`` + ``config.json`` pair. At load
time the linear weights are transposed to ``(in, out)``, Q/K/V are fused into one
``(H, 3H)`` matrix and the attention scale ``1/sqrt(head_dim)`` is folded into Q.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

F32 = np.float32

# Abramowitz & Stegun 7.1.26: |erf(x) - approx| <= 1.5e-7 for all real x.
_ERF_P = F32(0.3275911)
_ERF_A = tuple(F32(a) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))
_INV_SQRT2 = F32(1.0 / np.sqrt(2.0))


def gelu_(x: np.ndarray, block: int = 65536) -> np.ndarray:
    """Exact GELU, ``0.5 * x * (1 + erf(x / sqrt(2)))``, computed in place on ``x``.

    Written as ``0.5 * (x + |x| * (1 - erfc(|x| / sqrt(2))))`` so no branch or
    ``np.where`` is needed, and evaluated in blocks of about ``block`` elements so the
    float32 temporaries stay in the CPU cache.
    """
    flat = x.reshape(-1)  # a view for C-contiguous input
    if not np.shares_memory(flat, x):  # pragma: no cover - non-contiguous input
        x[...] = gelu_(np.ascontiguousarray(x), block)
        return x
    a1, a2, a3, a4, a5 = _ERF_A
    n = flat.shape[0]
    size = min(block, n)
    ax_buf, z_buf, t_buf, p_buf = (np.empty(size, dtype=F32) for _ in range(4))
    for start in range(0, n, size):
        xs = flat[start : start + size]
        m = xs.shape[0]
        ax, z, t, p = ax_buf[:m], z_buf[:m], t_buf[:m], p_buf[:m]
        np.abs(xs, out=ax)
        np.multiply(ax, _INV_SQRT2, out=z)  # z = |x| / sqrt(2) >= 0
        np.multiply(z, _ERF_P, out=t)
        t += F32(1.0)
        np.reciprocal(t, out=t)
        # p = t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5))))
        np.multiply(t, a5, out=p)
        p += a4
        p *= t
        p += a3
        p *= t
        p += a2
        p *= t
        p += a1
        p *= t
        np.square(z, out=z)
        np.negative(z, out=z)
        np.exp(z, out=z)
        p *= z  # erfc(z)
        np.subtract(F32(1.0), p, out=p)  # erf(|z|)
        p *= ax
        xs += p
        xs *= F32(0.5)
    return x


def layer_norm_(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm over the last axis, in place on ``x`` (float32)."""
    mean = x.mean(axis=-1, keepdims=True)
    x -= mean
    var = np.einsum("ij,ij->i", x, x)[:, None]
    var *= F32(1.0 / x.shape[-1])
    var += F32(eps)
    np.sqrt(var, out=var)
    np.reciprocal(var, out=var)
    x *= var
    x *= gamma
    x += beta
    return x


@dataclass
class _Layer:
    w_qkv: np.ndarray  # (H, 3H), Q part pre-scaled
    b_qkv: np.ndarray  # (3H,)
    w_o: np.ndarray  # (H, H)
    b_o: np.ndarray
    ln1_g: np.ndarray
    ln1_b: np.ndarray
    w_in: np.ndarray  # (H, I)
    b_in: np.ndarray
    w_out: np.ndarray  # (I, H)
    b_out: np.ndarray
    ln2_g: np.ndarray
    ln2_b: np.ndarray


class BertEncoder:
    """Holds the weights; ``encode`` is re-entrant (no mutable state after load)."""

    def __init__(self, model_dir: Path) -> None:
        from safetensors.numpy import load_file

        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are supported")
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported activation {config.get('hidden_act')!r}")
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.head_dim = self.hidden // self.heads
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.max_positions = int(config["max_position_embeddings"])
        n_layers = int(config["num_hidden_layers"])

        raw = load_file(str(model_dir / "model.safetensors"))
        w = {k.removeprefix("bert."): v for k, v in raw.items()}

        def get(name: str) -> np.ndarray:
            if name not in w:
                raise ValueError(f"model.safetensors has no tensor {name!r}")
            return np.ascontiguousarray(w[name], dtype=F32)

        self.word_emb = get("embeddings.word_embeddings.weight")
        self.pos_emb = get("embeddings.position_embeddings.weight")
        self.type0_emb = get("embeddings.token_type_embeddings.weight")[0].copy()
        self.emb_ln_g = get("embeddings.LayerNorm.weight")
        self.emb_ln_b = get("embeddings.LayerNorm.bias")
        scale = F32(1.0 / np.sqrt(self.head_dim))
        self.layers: list[_Layer] = []
        for i in range(n_layers):
            p = f"encoder.layer.{i}."
            q_w = get(p + "attention.self.query.weight") * scale
            q_b = get(p + "attention.self.query.bias") * scale
            k_w, k_b = get(p + "attention.self.key.weight"), get(p + "attention.self.key.bias")
            v_w, v_b = get(p + "attention.self.value.weight"), get(p + "attention.self.value.bias")
            self.layers.append(
                _Layer(
                    w_qkv=np.ascontiguousarray(np.concatenate([q_w, k_w, v_w], axis=0).T),
                    b_qkv=np.concatenate([q_b, k_b, v_b]).astype(F32),
                    w_o=np.ascontiguousarray(get(p + "attention.output.dense.weight").T),
                    b_o=get(p + "attention.output.dense.bias"),
                    ln1_g=get(p + "attention.output.LayerNorm.weight"),
                    ln1_b=get(p + "attention.output.LayerNorm.bias"),
                    w_in=np.ascontiguousarray(get(p + "intermediate.dense.weight").T),
                    b_in=get(p + "intermediate.dense.bias"),
                    w_out=np.ascontiguousarray(get(p + "output.dense.weight").T),
                    b_out=get(p + "output.dense.bias"),
                    ln2_g=get(p + "output.LayerNorm.weight"),
                    ln2_b=get(p + "output.LayerNorm.bias"),
                )
            )

    def encode(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Token ids and attention mask, both ``(B, L)`` ints, right-padded.

        Returns the mean-pooled (not yet normalised) ``(B, H)`` float32 embeddings.
        """
        bsz, seq = ids.shape
        if seq > self.max_positions:
            raise ValueError(f"sequence length {seq} exceeds {self.max_positions} positions")
        hdim, nh, hd = self.hidden, self.heads, self.head_dim
        x = self.word_emb[ids]  # (B, L, H) fresh copy
        x += self.pos_emb[:seq]
        x += self.type0_emb
        x = x.reshape(bsz * seq, hdim)
        layer_norm_(x, self.emb_ln_g, self.emb_ln_b, self.eps)

        maskf = mask.astype(F32)
        # additive mask like transformers: 0 for real tokens, float32 min for padding
        bias = ((F32(1.0) - maskf) * np.finfo(F32).min)[:, None, None, :]
        has_padding = bool((mask == 0).any())

        for layer in self.layers:
            qkv = x @ layer.w_qkv
            qkv += layer.b_qkv
            qkv = qkv.reshape(bsz, seq, 3, nh, hd).transpose(2, 0, 3, 1, 4)  # (3, B, nh, L, hd)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = q @ k.transpose(0, 1, 3, 2)  # (B, nh, L, L)
            if has_padding:
                scores += bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(bsz * seq, hdim)
            attn = ctx @ layer.w_o
            attn += layer.b_o
            attn += x
            x = layer_norm_(attn, layer.ln1_g, layer.ln1_b, self.eps)

            inter = x @ layer.w_in
            inter += layer.b_in
            gelu_(inter)
            out = inter @ layer.w_out
            out += layer.b_out
            out += x
            x = layer_norm_(out, layer.ln2_g, layer.ln2_b, self.eps)

        x = x.reshape(bsz, seq, hdim)
        summed = np.einsum("bl,blh->bh", maskf, x)
        counts = np.maximum(maskf.sum(axis=1, keepdims=True), F32(1e-9))
        return (summed / counts).astype(F32, copy=False)
