"""In-process caches: CachedValue for one value every request shares (trending, the
catalogue model, the live run), loaded by one caller while the others wait for it;
cachetools for everything keyed."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from cachetools import TTLCache

T = TypeVar("T")


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


def ttl_cache(ttl_s: float, max_entries: int) -> TTLCache | None:
    """A per-key cache (cachetools: least recently used evicted past `max_entries`, each
    entry kept `ttl_s`), or None when either is <= 0: the setting turns it off."""
    return TTLCache(max_entries, ttl_s) if ttl_s > 0 and max_entries > 0 else None
