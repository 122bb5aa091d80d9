"""A tiny async TTL cache for values every request shares (trending, catalogue model)."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class CachedValue(Generic[T]):
    def __init__(self, load: Callable[[], Awaitable[T]], ttl_s: float,
                 clock: Callable[[], float] = time.monotonic):
        self._load, self._ttl, self._clock = load, ttl_s, clock
        self._value: T | None = None
        self._expires = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self) -> T:
        if self._clock() < self._expires:
            return self._value  # type: ignore[return-value]
        async with self._lock:  # one reload at a time; others wait for it
            if self._clock() >= self._expires:
                self._value = await self._load()
                self._expires = self._clock() + self._ttl
        return self._value  # type: ignore[return-value]

    def invalidate(self) -> None:
        self._expires = float("-inf")
