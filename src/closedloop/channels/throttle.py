"""A rate limit in messages per second (a token bucket allowing a one-second burst)."""

from __future__ import annotations

import time
from collections.abc import Callable


class Throttle:
    """Waits so that no more than ``rate`` messages a second go out; 0 means no limit."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = max(0.0, rate)
        self.clock, self.sleep = clock, sleep
        self.tokens = self.rate
        self.stamp = clock()

    def wait(self, count: int = 1) -> float:
        """Block until ``count`` messages may go; returns how long it waited."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= count
        if self.tokens >= 0:
            return 0.0
        delay = -self.tokens / self.rate
        self.sleep(delay)
        return delay
