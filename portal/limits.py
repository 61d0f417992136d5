"""Per-address rate limits, per-session concurrency and refusal thinning for the share portal
(in memory, per portal process)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from contextlib import asynccontextmanager
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


class Busy(Exception):
    """Too many requests of one key are already running or waiting."""


class PerKeySlots:
    """At most ``running`` requests of one key (a session) at a time, ``waiting`` more queued.

    Image rendering is CPU work in a shared thread pool: without a cap, one session asking for a
    whole series at once would hold every thread and stall everyone else's images. Used from the
    event loop only (no lock needed).
    """

    def __init__(self, running: int = 2, waiting: int = 32):
        self.running, self.waiting = running, waiting
        self._slots: dict[str, list] = {}      # key -> [asyncio.Semaphore, requests holding or waiting]

    def busy(self, key: str) -> int:
        entry = self._slots.get(key)
        return entry[1] if entry else 0

    @asynccontextmanager
    async def slot(self, key: str):
        entry = self._slots.get(key)
        if entry is None:
            entry = self._slots[key] = [asyncio.Semaphore(self.running), 0]
        if entry[1] >= self.running + self.waiting:
            raise Busy(key)
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._slots.pop(key, None)


class OncePerWindow:
    """The first event of a key per window passes; the rest are counted and reported with the next.

    Keeps repeated refusals of one link from one address to one audit row a minute, however fast
    they come, without losing how many there were.
    """

    def __init__(self, seconds: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000):
        self.seconds, self.clock, self.max_keys = seconds, clock, max_keys
        self._seen: dict[str, list] = {}       # key -> [window start, events held back]
        self._lock = threading.Lock()

    def pass_(self, key: str) -> int | None:
        """None when this event is held back (counted); else how many were held back before it."""
        now = self.clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen[0] < self.seconds:
                seen[1] += 1
                return None
            if len(self._seen) >= self.max_keys:
                for k in [k for k, v in self._seen.items() if now - v[0] >= self.seconds]:
                    del self._seen[k]
            held = seen[1] if seen is not None else 0
            self._seen[key] = [now, 0]
            return held
