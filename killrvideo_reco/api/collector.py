"""Python's cyclic garbage collector, tuned for a server whose caches hold hundreds of
thousands of objects (ranked lists, candidates' features, videos' facts). With Python's
default threshold (700 allocations) a full collection ran every ~25 feed requests while
the caches filled, and collections took about a third of the app's CPU
(docs/benchmarks.md, "The garbage collector"). So: what is alive once the resources are
built is frozen out of every collection, and the young generation is collected after
PYTHON_GC_THRESHOLD allocations instead of 700. `python_gc_*` on /metrics shows the
collections."""
from __future__ import annotations

import gc


def tune(threshold: int) -> None:
    """0 leaves Python's defaults."""
    if threshold <= 0:
        return
    gc.collect()  # freeze what lives, not garbage awaiting its collection
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(threshold, older, oldest)
