"""Fixed-window rate limits: in Redis when configured (shared by every server process), in this
process otherwise. Keys name a conversation or a pseudonym, never an address."""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any, Protocol

log = logging.getLogger(__name__)

PREFIX = "helpline:chat:rl:"


class Limiter(Protocol):
    def hit(self, key: str, limit: int, window: float) -> float:
        """Count one event; 0 if it is allowed, else the seconds until it would be."""


class MemoryLimiter:
    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self._last_prune = 0.0

    def hit(self, key: str, limit: int, window: float, now: float | None = None) -> float:
        now = time.time() if now is None else now
        slot = math.floor(now / window)
        with self._lock:
            if now - self._last_prune > 60:
                self._prune(now, window)
            current_slot, count = self._counts.get(key, (slot, 0))
            if current_slot != slot:
                count = 0
            count += 1
            self._counts[key] = (slot, count)
        if count > limit:
            return max(0.001, (slot + 1) * window - now)
        return 0.0

    def _prune(self, now: float, window: float) -> None:
        slot = math.floor(now / window)
        self._counts = {k: v for k, v in self._counts.items() if v[0] >= slot - 1}
        self._last_prune = now


class RedisLimiter:
    """INCR on a key per window, expiring with it; falls back to memory while Redis is away."""

    def __init__(self, url: str) -> None:
        import redis

        self._redis: Any = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._fallback = MemoryLimiter()
        self._warned = False

    def hit(self, key: str, limit: int, window: float, now: float | None = None) -> float:
        import redis

        now = time.time() if now is None else now
        slot = math.floor(now / window)
        name = f"{PREFIX}{key}:{slot}"
        try:
            pipe = self._redis.pipeline()
            pipe.incr(name)
            pipe.expire(name, math.ceil(window) + 1)
            count = int(pipe.execute()[0])
            self._warned = False
        except (redis.RedisError, OSError):
            if not self._warned:
                log.warning("rate limits fall back to this process: redis is unreachable")
                self._warned = True
            return self._fallback.hit(key, limit, window, now)
        if count > limit:
            return max(0.001, (slot + 1) * window - now)
        return 0.0


def make_limiter(redis_url: str | None) -> Limiter:
    return RedisLimiter(redis_url) if redis_url else MemoryLimiter()
