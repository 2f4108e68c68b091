"""Carrier device id → our device id, read from ``carrier_devices`` and remembered for `cache_s`.

NB-IoT devices report every few minutes, so one indexed query per device per `cache_s` is nothing; a rebinding
(`civicgrid devices bind-carrier`) takes effect within `cache_s`. Called from worker threads.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg

from civicgrid.settings import DbSettings
from civicgrid.store import carrier_devices
from civicgrid.store.carrier_devices import Platform
from civicgrid.store.db import connect

log = logging.getLogger(__name__)


class Bindings:
    def __init__(self, db: DbSettings, cache_s: float) -> None:
        self.db, self.cache_s = db, cache_s
        self._cache: dict[tuple[str, str], tuple[float, str | None]] = {}
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()

    def device_of(self, platform: Platform, carrier_device_id: str) -> str | None:
        key = (platform, carrier_device_id)
        hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.cache_s:
            return hit[1]
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = connect(self.db, autocommit=True)
                    device_id = carrier_devices.device_of(self._conn, platform, carrier_device_id)
                    if len(self._cache) > 100_000:  # ids an outsider cannot choose (signed), but bound it anyway
                        self._cache.clear()
                    self._cache[key] = (time.monotonic(), device_id)
                    return device_id
                except psycopg.OperationalError as exc:
                    log.warning("binding lookup %s/%s failed (attempt %d): %s", platform, carrier_device_id,
                                attempt, exc)
                    self._conn = None
        raise ConnectionError("the device registry is unreachable")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
