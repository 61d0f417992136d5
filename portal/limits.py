"""Per-address rate limits, per-session concurrency and refusal thinning for the share portal.

An embedded portal (the state in SQLite, one process) keeps them in memory, as it always has. When
the state is shared (PostgreSQL), several portal replicas stand behind one load balancer, and a
limit each replica counted alone would multiply by their number: the rate limits (``requests``,
passcode ``attempts``) and the refusal thinning are then counted in the state
(``SharedRateLimit``, ``SharedOncePerWindow``: one single-statement upsert each, atomic on both
backends). The render cap (``PerKeySlots``) stays per process: it shares out this process's own
thread pool, which no other replica uses. Lockouts need nothing here: a link's failed attempts and
lock are columns of the link (``archive.sharing.links.verify``), already in the shared state.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections import deque
from contextlib import asynccontextmanager, closing
from typing import Callable

from archive import state
from archive.home import Home

log = logging.getLogger("limestone.portal")


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


# ---- shared across replicas (the state) ---------------------------------------------------------
_PRUNE_EVERY = 500          # about one call in this many deletes rows idle for a day


def _prune(con: state.StateConnection, now: float) -> None:
    if random.randrange(_PRUNE_EVERY) == 0:
        con.execute("DELETE FROM portal_counters WHERE window_start < ?", [now - 86400.0])


class SharedRateLimit:
    """``RateLimit`` counted in the state, so every portal replica sees the same count.

    A fixed window per key that starts at its first event: at most ``limit`` events in it; the
    refused ones are not counted. (Not a sliding log like ``RateLimit``: a burst across a window's
    end may reach twice the limit, which a replica-wide count still keeps bounded.) If the state
    cannot be reached the event is allowed and logged: the link checks behind it fail closed.
    """

    blocking = True     # one database round trip: call it off the event loop

    def __init__(self, home: Home, kind: str, limit: int, seconds: float = 60.0,
                 clock: Callable[[], float] = time.time):
        self.home, self.kind, self.limit, self.seconds, self.clock = home, kind, limit, seconds, clock

    def allow(self, key: str) -> bool:
        """Count one event for ``key``; False when it is over the limit (the event is not counted)."""
        if self.limit <= 0:
            return True
        now = self.clock()
        try:
            with closing(state.connect(self.home)) as con:
                row = con.execute(
                    "INSERT INTO portal_counters (kind, key, window_start, events) VALUES (?, ?, ?, 1) "
                    "ON CONFLICT (kind, key) DO UPDATE SET "
                    "events = CASE WHEN portal_counters.window_start <= ? THEN 1 "
                    "ELSE portal_counters.events + 1 END, "
                    "window_start = CASE WHEN portal_counters.window_start <= ? THEN excluded.window_start "
                    "ELSE portal_counters.window_start END "
                    "WHERE portal_counters.window_start <= ? OR portal_counters.events < ? RETURNING events",
                    [self.kind, key, now, now - self.seconds, now - self.seconds, now - self.seconds,
                     self.limit]).fetchone()
                _prune(con, now)
        except state.ERRORS as exc:
            log.error("share portal limit %s not counted (state database: %s)", self.kind, type(exc).__name__)
            return True
        return row is not None


class SharedOncePerWindow:
    """``OncePerWindow`` counted in the state: one audit row per window for every replica together."""

    def __init__(self, home: Home, seconds: float = 60.0, clock: Callable[[], float] = time.time):
        self.home, self.seconds, self.clock = home, seconds, clock

    def pass_(self, key: str) -> int | None:
        """None when this event is held back (counted); else how many were held back before it."""
        now = self.clock()
        expired = now - self.seconds
        try:
            with closing(state.connect(self.home)) as con:
                row = con.execute(
                    "INSERT INTO portal_counters (kind, key, window_start, events, held) "
                    "VALUES ('refusals', ?, ?, 0, 0) "
                    "ON CONFLICT (kind, key) DO UPDATE SET "
                    "held = CASE WHEN portal_counters.window_start <= ? THEN portal_counters.events ELSE NULL END, "
                    "events = CASE WHEN portal_counters.window_start <= ? THEN 0 "
                    "ELSE portal_counters.events + 1 END, "
                    "window_start = CASE WHEN portal_counters.window_start <= ? THEN excluded.window_start "
                    "ELSE portal_counters.window_start END RETURNING held",
                    [key, now, expired, expired, expired]).fetchone()
                _prune(con, now)
        except state.ERRORS as exc:
            log.error("share portal refusal not thinned (state database: %s)", type(exc).__name__)
            return 0
        return None if row is None or row[0] is None else int(row[0])


def portal_limits(home: Home, requests_per_minute: int, attempts_per_minute: int):
    """(requests, attempts, refusals) limits for a portal of ``home``: in the state when it is shared
    by replicas (PostgreSQL), else in this process's memory."""
    if home.state_url:
        return (SharedRateLimit(home, "requests", requests_per_minute),
                SharedRateLimit(home, "attempts", attempts_per_minute), SharedOncePerWindow(home))
    return RateLimit(requests_per_minute), RateLimit(attempts_per_minute), OncePerWindow()
