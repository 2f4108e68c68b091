"""The gateway's view of the device registry: an in-memory map kept fresh by LISTEN/NOTIFY.

Every lookup on the hot path is a dict read.  A background thread loads the
whole registry at start, applies single-device changes as the provisioning
code's ``NOTIFY civicgrid_devices`` arrives, and reloads everything every
`refresh_s` as a safety net (a missed notification during a database
reconnect).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

from civicgrid.settings import DbSettings
from civicgrid.store.carrier_devices import ADDRESS_COLUMNS, ADDRESS_JOIN, CarrierAddress
from civicgrid.store.db import connect
from civicgrid.store.devices import CHANGE_CHANNEL

log = logging.getLogger(__name__)

_SELECT = ("SELECT id, kind, profile, enabled, component_code, grid_cell_code, inspector_user_id, "
           f"{ADDRESS_COLUMNS} FROM devices {ADDRESS_JOIN}")


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    device_id: str
    kind: str
    profile: str
    enabled: bool
    links: dict[str, Any] = field(default_factory=dict)
    key: bytes = b""
    carrier: CarrierAddress | None = None  # bound to a carrier platform: commands go through its API

    @classmethod
    def from_row(cls, row: tuple) -> DeviceInfo:
        device_id, kind, profile, enabled, component, cell, inspector, platform, carrier_id, imei = row
        links = {"component_code": component, "grid_cell_code": cell, "inspector_user_id": inspector}
        carrier = None if platform is None else CarrierAddress(platform, carrier_id, imei)
        return cls(device_id, kind, profile, enabled, links, device_id.encode(), carrier)


class DeviceRegistry:
    def __init__(self, db: DbSettings, refresh_s: float = 60.0) -> None:
        self.db = db
        self.refresh_s = refresh_s
        self._devices: dict[str, DeviceInfo] = {}
        self._misses: dict[str, float] = {}
        self._miss_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()

    def get(self, device_id: str) -> DeviceInfo | None:
        """The device, from memory; on a miss, asked of the database (at most every 5 s per id).

        A device provisioned a moment ago can publish before its NOTIFY is applied;
        a miss is rare (the broker refuses unregistered devices), so a direct query
        on the hot path costs nothing in practice and closes that race.
        """
        device = self._devices.get(device_id)
        if device is not None:
            return device
        now = time.monotonic()
        if now - self._misses.get(device_id, -1e9) < 5.0:
            return None
        self._misses[device_id] = now
        try:
            with self._miss_lock, connect(self.db, autocommit=True) as conn:
                self._load_one(conn, device_id)
        except psycopg.Error as exc:
            log.warning("device lookup for %s failed: %s", device_id, exc)
        return self._devices.get(device_id)

    def __len__(self) -> int:
        return len(self._devices)

    def load_all(self, conn: psycopg.Connection) -> None:
        self._devices = {row[0]: DeviceInfo.from_row(row) for row in conn.execute(_SELECT).fetchall()}

    def _load_one(self, conn: psycopg.Connection, device_id: str) -> None:
        row = conn.execute(_SELECT + " WHERE id = %s", (device_id,)).fetchone()
        if row is None:
            self._devices.pop(device_id, None)
        else:
            self._devices[device_id] = DeviceInfo.from_row(row)

    def start(self) -> None:
        with connect(self.db) as conn:
            self.load_all(conn)
        self.ready.set()
        log.info("device registry loaded: %d devices", len(self._devices))
        self._thread = threading.Thread(target=self._listen, name="device-registry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with connect(self.db, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANGE_CHANNEL}")
                    self.load_all(conn)  # anything changed while we were not listening
                    last_full = time.monotonic()
                    while not self._stop.is_set():
                        # The generator holds the connection's lock: drain it before querying.
                        # stop_after=1 hands over a change at once (otherwise it waits out its
                        # whole timeout); further changes queue for the next round.
                        changed = [n.payload for n in conn.notifies(timeout=1.0, stop_after=1)]
                        for device_id in dict.fromkeys(changed):
                            self._load_one(conn, device_id)
                        if changed:
                            log.info("device registry: %d change(s) applied", len(changed))
                        if time.monotonic() - last_full > self.refresh_s:
                            self.load_all(conn)
                            last_full = time.monotonic()
            except psycopg.Error as exc:
                log.warning("device registry connection lost (%s); retrying in 2 s", exc)
                self._stop.wait(2.0)
