"""The Murmur3 token ring, split into ranges for scans that walk a whole table."""
from __future__ import annotations

MIN_TOKEN, MAX_TOKEN = -(2 ** 63), 2 ** 63 - 1


def token_splits(count: int) -> list[tuple[int, int]]:
    """(start, end] ranges covering the Murmur3 ring. Murmur3 never gives a key the
    minimum token (it is normalised to the maximum), so (MIN, MAX] misses nothing."""
    width = (MAX_TOKEN - MIN_TOKEN) // count
    bounds = [MIN_TOKEN + i * width for i in range(count)] + [MAX_TOKEN]
    return list(zip(bounds[:-1], bounds[1:]))
