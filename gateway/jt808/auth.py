"""Authentication codes of JT/T 808 terminals, issued from the device registry without writing to it.

A terminal registers once (0x0100) and keeps the code the platform answers (0x8100); afterwards it
authenticates with that code (0x0102) on every connection. The code is derived from what the registry
already holds for the device: HMAC-SHA256 keyed with its stored secret hash over its id, 20 base32
characters (100 bits). So the gateway writes nothing (docs/architecture.md: the gateway does not write to
the database) and keeps no key of its own; ``civicgrid devices rotate-secret ID`` issues a terminal a new
code (its old one stops working), and ``civicgrid devices disable ID`` refuses it. Who can read the
registry's hashes can compute codes, as they could rewrite the registry itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading

import psycopg

from civicgrid.settings import DbSettings
from civicgrid.store.db import connect

log = logging.getLogger(__name__)

CODE_LENGTH = 20


def auth_code(device_id: str, secret_hash: str) -> str:
    digest = hmac.new(secret_hash.encode(), b"jt808-auth:" + device_id.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii")[:CODE_LENGTH].lower()


def code_matches(device_id: str, secret_hash: str, code: str) -> bool:
    return hmac.compare_digest(auth_code(device_id, secret_hash).encode(), code.strip().lower().encode())


class SecretHashes:
    """The registry's secret hash of one device, read on one held connection (called from worker threads)."""

    def __init__(self, db: DbSettings) -> None:
        self.db = db
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()

    def get(self, device_id: str) -> str | None:
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = connect(self.db, autocommit=True)
                    row = self._conn.execute("SELECT secret_hash FROM devices WHERE id = %s",
                                             (device_id,)).fetchone()
                    return None if row is None else str(row[0])
                except psycopg.OperationalError as exc:
                    log.warning("secret lookup for %s failed (attempt %d): %s", device_id, attempt, exc)
                    self._conn = None
            return None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
