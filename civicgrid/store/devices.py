"""The device registry (table ``devices``): what devices exist, their kind, links and secret hash.

Secrets are never stored: only the Mosquitto-format PBKDF2 hash, from which
the broker's password file is generated.  Every change sends
``NOTIFY civicgrid_devices`` so running gateways refresh their cache at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from civicgrid.domain.devices import validate_device_id

CHANGE_CHANNEL = "civicgrid_devices"


class DeviceNotFound(LookupError):
    def __init__(self, device_id: str) -> None:
        super().__init__(f"no device {device_id!r} in the registry")
        self.device_id = device_id


class DeviceExists(ValueError):
    def __init__(self, device_id: str) -> None:
        super().__init__(f"device {device_id!r} is already registered")
        self.device_id = device_id


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    kind: str
    profile: str
    enabled: bool
    component_code: str | None
    grid_cell_code: str | None
    inspector_user_id: int | None
    created_at: datetime
    updated_at: datetime
    last_seen_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeviceCredentials:
    device_id: str
    secret_hash: str
    enabled: bool


_COLUMNS = ("id, kind, profile, enabled, component_code, grid_cell_code, inspector_user_id, "
            "created_at, updated_at, last_seen_at")


def _notify(conn: psycopg.Connection, device_id: str) -> None:
    conn.execute("SELECT pg_notify(%s, %s)", (CHANGE_CHANNEL, device_id))


def insert_device(conn: psycopg.Connection, device_id: str, kind: str, profile: str, secret_hash: str, *,
                  component_code: str | None = None, grid_cell_code: str | None = None,
                  inspector_user_id: int | None = None) -> None:
    validate_device_id(device_id)
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO devices (id, kind, profile, secret_hash, component_code, grid_cell_code, "
                "inspector_user_id) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (device_id, kind, profile, secret_hash, component_code, grid_cell_code, inspector_user_id),
            )
            _notify(conn, device_id)
    except psycopg.errors.UniqueViolation:
        raise DeviceExists(device_id) from None


def get_device(conn: psycopg.Connection, device_id: str) -> Device:
    with conn.cursor(row_factory=class_row(Device)) as cur:
        row = cur.execute(f"SELECT {_COLUMNS} FROM devices WHERE id = %s", (device_id,)).fetchone()
    if row is None:
        raise DeviceNotFound(device_id)
    return row


def list_devices(conn: psycopg.Connection, *, kind: str | None = None, enabled: bool | None = None) -> list[Device]:
    with conn.cursor(row_factory=class_row(Device)) as cur:
        return cur.execute(
            f"SELECT {_COLUMNS} FROM devices WHERE (%(kind)s::text IS NULL OR kind = %(kind)s) "
            "AND (%(enabled)s::boolean IS NULL OR enabled = %(enabled)s) ORDER BY id",
            {"kind": kind, "enabled": enabled},
        ).fetchall()


def set_enabled(conn: psycopg.Connection, device_id: str, enabled: bool) -> None:
    with conn.transaction():
        cur = conn.execute("UPDATE devices SET enabled = %s, updated_at = now() WHERE id = %s", (enabled, device_id))
        if cur.rowcount == 0:
            raise DeviceNotFound(device_id)
        _notify(conn, device_id)


def set_secret_hash(conn: psycopg.Connection, device_id: str, secret_hash: str) -> None:
    with conn.transaction():
        cur = conn.execute("UPDATE devices SET secret_hash = %s, updated_at = now() WHERE id = %s",
                           (secret_hash, device_id))
        if cur.rowcount == 0:
            raise DeviceNotFound(device_id)
        _notify(conn, device_id)


def enabled_credentials(conn: psycopg.Connection) -> list[DeviceCredentials]:
    """Credentials of every enabled device; disabled ones get no broker account at all."""
    rows = conn.execute("SELECT id, secret_hash, enabled FROM devices WHERE enabled ORDER BY id").fetchall()
    return [DeviceCredentials(*row) for row in rows]
