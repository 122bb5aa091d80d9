"""Small in-process TTL caches: values every request shares (trending, catalogue model),
and per-key values such as the facts of recently viewed videos."""
from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
K = TypeVar("K")


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


class KeyedTtlCache(Generic[K, T]):
    """Per-key values (video facts for view events), each kept for `ttl_s`, at most
    `max_entries` of them (least recently used evicted). ttl_s <= 0 turns it off."""

    def __init__(self, ttl_s: float, max_entries: int,
                 clock: Callable[[], float] = time.monotonic):
        self._ttl, self._max, self._clock = ttl_s, max_entries, clock
        self._entries: OrderedDict[K, tuple[float, T]] = OrderedDict()

    def get(self, key: K) -> T | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() >= entry[0]:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: K, value: T) -> None:
        if self._ttl <= 0 or self._max <= 0:
            return
        self._entries[key] = (self._clock() + self._ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
