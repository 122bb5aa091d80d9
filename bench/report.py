"""Turns the measurements into the "## Feed latency" block of docs/benchmarks.md.
Only the text between the feed markers is rewritten; other sections are left alone."""
from __future__ import annotations

import pstats
import re
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

BEGIN, END = "<!-- feed:begin -->", "<!-- feed:end -->"
DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"

SKELETON = f"""# Benchmarks

Figures measured on one machine; see each section for how they were produced.

## Feed latency

{BEGIN}
{END}

## Embeddings

_Placeholder: batched embedding throughput (`bench/embeddings_bench.py`) goes here._

## Profile rebuild

_Placeholder: `make profiles` (taste-profile rebuild) throughput goes here._
"""


def log(message: str) -> None:
    """make bench's progress line, on stderr."""
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def metric_samples(text: str, family: str) -> list:
    """The samples of one metric family in a /metrics text (prometheus_client's parser;
    a counter's family name drops its `_total`)."""
    from prometheus_client.parser import text_string_to_metric_families

    return [sample for found in text_string_to_metric_families(text)
            if found.name == family for sample in found.samples]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")


def summarise(latencies_ms: list[float]) -> dict:
    return {"n": len(latencies_ms), "p50": pct(latencies_ms, 50), "p95": pct(latencies_ms, 95),
            "p99": pct(latencies_ms, 99), "max": max(latencies_ms) if latencies_ms else float("nan"),
            "mean": float(np.mean(latencies_ms)) if latencies_ms else float("nan")}


def ms(value: float) -> str:
    if value != value:  # nan
        return "–"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def update_doc(path: Path, block: str, begin: str = BEGIN, end: str = END,
               heading: str = "Feed latency") -> None:
    """Replace what is between the markers (creating the file or section if missing)."""
    text = path.read_text() if path.exists() else SKELETON
    if begin not in text or end not in text:
        text = text.rstrip("\n") + f"\n\n## {heading}\n\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{head}{begin}\n{block.strip()}\n{end}{tail}")


# ---------------------------------------------------------------- cProfile digest

_PACKAGE = re.compile(r"site-packages/([A-Za-z0-9_]+)")


def _bucket(filename: str) -> str:
    if filename == "~" or filename.startswith("<"):
        return "C-level builtins called from Python (isinstance, dict.get, socket, ...)"
    if "killrvideo_reco" in filename:
        return "killrvideo_reco"
    if "/bench/" in filename:
        return "bench instrumentation"
    match = _PACKAGE.search(filename)
    if match:
        name = match.group(1)
        return {"cassandra": "cassandra-driver", "pydantic_core": "pydantic",
                "jwt": "PyJWT"}.get(name, name)
    if "/asyncio/" in filename:
        return "asyncio (stdlib)"
    if "/concurrent/" in filename or "threading.py" in filename or "queue.py" in filename:
        return "threads / queues (stdlib)"
    return "other stdlib"


def profile_digest(path: str, top: int = 18) -> dict:
    stats = pstats.Stats(path)
    rows = []
    buckets: dict[str, float] = {}
    total = 0.0
    for (filename, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():
        total += tt
        buckets[_bucket(filename)] = buckets.get(_bucket(filename), 0.0) + tt
        short = re.sub(r".*site-packages/", "", filename)
        short = re.sub(r".*/lib/python3\.\d+/", "", short)
        short = re.sub(r".*/(killrvideo_reco|bench)/", r"\1/", short)
        rows.append((tt, ct, nc, f"{short}:{line}({func})" if filename != "~" else func))
    rows.sort(reverse=True)
    return {"total_s": total, "buckets": sorted(buckets.items(), key=lambda kv: -kv[1]),
            "top": rows[:top],
            "cumulative": sorted(rows, key=lambda r: -r[1])[:top]}
