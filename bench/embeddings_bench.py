"""Benchmark (not a test): batched MiniLM embedding throughput on short, title-like texts.

    .venv/bin/python bench/embeddings_bench.py                 # 1,000 texts, batch 32 and 64
    .venv/bin/python bench/embeddings_bench.py --n 2000 --batch-sizes 16,32,64 --repeat 3
    .venv/bin/python bench/embeddings_bench.py --profile        # cProfile of one run
    .venv/bin/python bench/embeddings_bench.py --provider hashing
    .venv/bin/python bench/embeddings_bench.py --blas-threads 1  # OpenBLAS threads, before numpy loads

Prints texts/s for each batch size (median and best of --repeat runs), the mean token count and the
process's peak RSS. The texts are generated from a fixed seed, so runs are comparable.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import random
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _early_blas_threads(argv: list[str]) -> None:
    """--blas-threads must act before numpy (and so OpenBLAS) is imported."""
    for i, arg in enumerate(argv):
        value = arg.split("=", 1)[1] if arg.startswith("--blas-threads=") else None
        if arg == "--blas-threads" and i + 1 < len(argv):
            value = argv[i + 1]
        if value:
            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[var] = value


_early_blas_threads(sys.argv[1:])

ADJ = "amazing quick easy ultimate honest epic tiny giant secret hidden classic modern lazy".split()
TOPIC = (
    "pasta recipe guitar lesson python tutorial cat compilation drone footage mountain hike "
    "street food tour budget travel piano cover chess opening bread baking car review "
    "home workout garden makeover retro gaming space documentary coffee brewing"
).split()
TAIL = [
    "for beginners", "in 10 minutes", "you need to try", "(full guide)", "| part 2",
    "gone wrong", "explained", "at home", "2024 edition", "vs the world", "— live", "",
]


def make_texts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        words = [rng.choice(ADJ)] + rng.sample(TOPIC, rng.randint(1, 3)) + [rng.choice(TAIL)]
        if rng.random() < 0.3:
            words.insert(0, rng.choice(["My", "The", "How to make the", "Why the", "Top 10"]))
        texts.append(" ".join(w for w in words if w).capitalize())
    return texts


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def build(provider_name: str, batch_size: int):
    if provider_name == "minilm":
        from killrvideo_reco.embeddings.minilm import MiniLMProvider

        return MiniLMProvider(batch_size=batch_size)
    from killrvideo_reco.embeddings.hashing import HashingProvider

    return HashingProvider(dimension=384)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="number of texts (default 1000)")
    ap.add_argument("--batch-sizes", default="32,64")
    ap.add_argument("--repeat", type=int, default=3, help="runs per batch size (default 3)")
    ap.add_argument("--provider", choices=["minilm", "hashing"], default="minilm")
    ap.add_argument("--profile", action="store_true", help="cProfile one run, print top 25")
    ap.add_argument("--blas-threads", type=int, default=None, help="OpenBLAS threads (default: all)")
    args = ap.parse_args(argv)

    texts = make_texts(args.n)
    sizes = [int(s) for s in args.batch_sizes.split(",") if s.strip()]
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} CPUs, BLAS threads {blas}")
    print(f"load average before run: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"{len(texts)} texts, e.g. {texts[0]!r}, {texts[1]!r}")

    t0 = time.perf_counter()
    provider = build(args.provider, sizes[0])
    if hasattr(provider, "load"):
        provider.load()
    print(f"model_id={provider.model_id}  load {time.perf_counter() - t0:.2f}s")
    if hasattr(provider, "tokenize"):
        lengths = [len(ids) for ids in provider.tokenize(texts)]
        print(f"tokens per text incl. [CLS]/[SEP]: mean {sum(lengths) / len(lengths):.1f}, "
              f"max {max(lengths)}")
    provider.embed(texts[:64])  # warm-up (BLAS threads, allocator)

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        provider.embed(texts)
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
        print(buf.getvalue())

    for bs in sizes:
        if hasattr(provider, "batch_size"):
            provider.batch_size = bs
        times = []
        for _ in range(max(1, args.repeat)):
            t = time.perf_counter()
            vecs = provider.embed(texts)
            times.append(time.perf_counter() - t)
        assert vecs.shape == (len(texts), provider.dimension)
        best, median = min(times), statistics.median(times)
        print(
            f"batch {bs:>3}: {len(texts) / median:8.1f} texts/s median, {len(texts) / best:8.1f} best"
            f"  ({median:.2f}s median for {len(texts)}, {len(times)} runs)"
        )
    print(f"peak RSS {peak_rss_mib():.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
