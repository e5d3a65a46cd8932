"""In-memory sliding-window rate limits: the sign-up form must not become a mail cannon.

A sliding log (one timestamp per accepted request) rather than fixed buckets, so a burst straddling
a bucket boundary cannot get twice the allowance. State lives in the process: one `digest serve`
per site is the supported shape, and a restart forgets at most one window of history.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable

# Sweep keys whose windows are empty once the table grows past this, so a flood of distinct
# addresses cannot grow memory without bound.
_SWEEP_AT = 10_000


class SlidingWindowLimiter:
    """At most `limit` hits per `window` seconds per key; `clock` returns seconds (any epoch)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs limit >= 1 and a positive window")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many keys the limiter holds: idle ones are forgotten once there are many."""
        with self._lock:
            return len(self._hits)

    def hit(self, key: str) -> float | None:
        """Record a hit and return None, or refuse it and return the seconds until one is free."""
        now = self._clock()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if len(self._hits) >= _SWEEP_AT:
                    self._sweep(now)
                hits = self._hits[key] = deque()
            self._expire(hits, now)
            if len(hits) >= self.limit:
                return max(hits[0] + self.window - now, 0.0)
            hits.append(now)
            return None

    def blocked(self, key: str) -> float | None:
        """Without recording a hit: the seconds until `key` may hit again, None when it may now."""
        now = self._clock()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                return None
            self._expire(hits, now)
            return max(hits[0] + self.window - now, 0.0) if len(hits) >= self.limit else None

    def _expire(self, hits: deque[float], now: float) -> None:
        while hits and hits[0] <= now - self.window:
            hits.popleft()

    def _sweep(self, now: float) -> None:
        for key in list(self._hits):
            hits = self._hits[key]
            self._expire(hits, now)
            if not hits:
                del self._hits[key]


def retry_after_header(seconds: float) -> str:
    """Whole seconds, at least one, for the `Retry-After` header."""
    return str(max(1, math.ceil(seconds)))
