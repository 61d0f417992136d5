"""Per-address rate limits for the share portal (in memory, per portal process)."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable


class RateLimit:
    """At most ``limit`` events per ``seconds`` for each key (a client address)."""

    def __init__(self, limit: int, seconds: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000):
        self.limit, self.seconds, self.clock, self.max_keys = limit, seconds, clock, max_keys
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Count one event for ``key``; False when it is over the limit (the event is not counted)."""
        if self.limit <= 0:
            return True
        now = self.clock()
        with self._lock:
            events = self._events.get(key)
            if events is None:
                if len(self._events) >= self.max_keys:  # a flood of addresses: forget the quiet ones
                    self._forget(now)
                events = self._events[key] = deque()
            while events and events[0] <= now - self.seconds:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            return True

    def _forget(self, now: float) -> None:
        for key in [k for k, v in self._events.items() if not v or v[-1] <= now - self.seconds]:
            del self._events[key]
