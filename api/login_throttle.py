"""Login throttling: failed logins per user name and per client address, with back-off; bounded hashing.

Each login attempt costs an argon2 hash (64 MiB of memory, tens of milliseconds of a core), so an
attacker could guess passwords or simply exhaust the machine. Before any hashing:
- a user name with `max_failures_per_user` failed logins in the window is refused (429 with
  ``Retry-After``) for a time that doubles with each further failure, up to the window;
- so is a client address with `max_failures_per_address` failures (one address guessing many names);
- at most `max_concurrent_hashes` hashes run at once; an attempt that cannot get a slot within a
  few seconds is refused as busy (429) rather than queued without bound.
A successful login clears its user name's failures. State is per API process (a deployment with
several API processes divides an attacker's budget by their number, not more), bounded in size.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

MAX_TRACKED = 100_000  # user names and addresses remembered at most (the oldest are forgotten first)


class Throttled(Exception):
    def __init__(self, retry_after_s: int, reason: str) -> None:
        super().__init__(reason)
        self.retry_after_s = max(1, retry_after_s)
        self.reason = reason


@dataclass
class _Failures:
    times: list[float] = field(default_factory=list)


@dataclass
class LoginThrottle:
    max_failures_per_user: int = 5
    max_failures_per_address: int = 30
    window_s: float = 900.0
    max_concurrent_hashes: int = 2
    hash_wait_s: float = 5.0
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: OrderedDict[str, _Failures] = OrderedDict()
        self._hashing = threading.BoundedSemaphore(self.max_concurrent_hashes)

    def check(self, username: str, address: str) -> None:
        """Raise `Throttled` if this user name or address must wait; call before hashing anything."""
        now = self.clock()
        with self._lock:
            for key, limit, what in ((f"user:{username.lower()}", self.max_failures_per_user, "this user name"),
                                     (f"addr:{address}", self.max_failures_per_address, "this address")):
                wait = self._wait_s(key, limit, now)
                if wait > 0:
                    raise Throttled(int(wait) + 1, f"too many failed logins for {what}; try again later")

    def failed(self, username: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            for key in (f"user:{username.lower()}", f"addr:{address}"):
                entry = self._by_key.pop(key, None) or _Failures()
                entry.times = [t for t in entry.times if now - t < self.window_s] + [now]
                self._by_key[key] = entry
            while len(self._by_key) > MAX_TRACKED:
                self._by_key.popitem(last=False)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._by_key.pop(f"user:{username.lower()}", None)

    @contextmanager
    def hashing(self) -> Iterator[None]:
        """A slot to hash a password in; `Throttled` when none frees up within `hash_wait_s`."""
        if not self._hashing.acquire(timeout=self.hash_wait_s):
            raise Throttled(1, "the login service is busy; try again in a moment")
        try:
            yield
        finally:
            self._hashing.release()

    def _wait_s(self, key: str, limit: int, now: float) -> float:
        entry = self._by_key.get(key)
        if entry is None:
            return 0.0
        recent = [t for t in entry.times if now - t < self.window_s]
        over = len(recent) - limit
        if over < 0:
            return 0.0
        # At the limit: wait 1 s after the last failure, doubling with each failure past it, up to the window.
        return recent[-1] + min(2.0 ** over, self.window_s) - now
