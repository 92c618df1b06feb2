"""How fast and how many: a calls-per-second token bucket and a concurrency cap.

The bucket starts full with ``burst`` tokens and refills at ``rate`` tokens a second; an
originate takes one. ``burst=1`` spaces calls exactly ``1/rate`` apart::

    bucket = TokenBucket(rate=25.0, burst=1)
    await bucket.take()          # returns at once, then every 40 ms
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable


class TokenBucket:
    """At most ``rate`` takes a second on average, ``burst`` at once after a quiet spell."""

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"calls per second must be > 0, not {rate}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, not {burst}")
        self.rate = float(rate)
        self.burst = float(burst)
        self.clock = clock
        self._tokens = self.burst
        self._at = clock()

    def _refill(self) -> None:
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def wait_time(self) -> float:
        """Seconds until one token is there (0: now)."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    def try_take(self) -> bool:
        """Take a token if one is there."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    async def take(self) -> None:
        """Wait for a token and take it."""
        while not self.try_take():
            await asyncio.sleep(self.wait_time())


class Slots:
    """A concurrency cap that can be changed while it is in use: ``used`` never passes
    ``limit`` through :meth:`acquire` (``release`` wakes a waiter)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"concurrency must be >= 1, not {limit}")
        self.limit = limit
        self.used = 0
        self.peak = 0
        self._changed = asyncio.Event()

    @property
    def free(self) -> int:
        return max(0, self.limit - self.used)

    def take(self, n: int = 1) -> None:
        """Count ``n`` more in use (the caller checked :attr:`free`)."""
        if n > self.free:
            raise RuntimeError(f"concurrency cap {self.limit} would be exceeded")
        self.used += n
        self.peak = max(self.peak, self.used)

    def release(self, n: int = 1) -> None:
        self.used = max(0, self.used - n)
        self._changed.set()

    async def wait_free(self, timeout: float) -> bool:
        """Wait until a slot is free (or ``timeout`` seconds); True when one is."""
        if self.free:
            return True
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)
        return self.free > 0
