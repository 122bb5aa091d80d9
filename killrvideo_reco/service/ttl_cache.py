"""In-process caches: CachedValue for one value every request shares (trending, the
catalogue model, the live run), loaded by one caller while the others wait for it;
CachedByKey, a read-through over a cachetools cache, for values by key."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Generic, TypeVar

from cachetools import TTLCache

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class CachedValue(Generic[T]):
    def __init__(self, load: Callable[[], Awaitable[T]], ttl_s: float,
                 clock: Callable[[], float] = time.monotonic):
        self._load, self._ttl, self._clock = load, ttl_s, clock
        self._value: T | None = None
        self._expires = float("-inf")
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    async def get(self) -> T:
        if self._clock() < self._expires:
            return self._value  # type: ignore[return-value]
        async with self._loop_lock():  # one reload at a time; others wait for it
            if self._clock() >= self._expires:
                self._value = await self._load()
                self._expires = self._clock() + self._ttl
        return self._value  # type: ignore[return-value]

    def _loop_lock(self) -> asyncio.Lock:
        # A lock belongs to one event loop; jobs and tests run several loops in turn.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    def invalidate(self) -> None:
        self._expires = float("-inf")


def ttl_cache(ttl_s: float, max_entries: int,
              clock: Callable[[], float] = time.monotonic) -> TTLCache | None:
    """A per-key cache (cachetools: least recently used evicted past `max_entries`, each
    entry kept `ttl_s` by `clock`), or None when either is <= 0: the setting turns it off."""
    return TTLCache(max_entries, ttl_s, timer=clock) if ttl_s > 0 and max_entries > 0 else None


class CachedByKey(Generic[K, V]):
    """Values by key: cached ones from `cache`, the others in one `load` of them all.
    Keys the load does not find are not cached, so a value stored since is found next
    time; a cached value serves until its entry expires. `cache` None: always load."""

    def __init__(self, load: Callable[[list[K]], Awaitable[Mapping[K, V]]],
                 cache: TTLCache | None):
        self._load, self._cache = load, cache

    async def get_many(self, keys: Sequence[K]) -> dict[K, V]:
        cache = self._cache
        found: dict[K, V] = {}
        if cache is not None:
            for key in keys:
                value = cache.get(key)
                if value is not None:
                    found[key] = value
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing:
            loaded = await self._load(missing)
            found.update(loaded)
            if cache is not None:
                for key, value in loaded.items():
                    cache[key] = value
        return found

    async def get(self, key: K) -> V | None:
        return (await self.get_many([key])).get(key)
