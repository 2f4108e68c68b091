"""The device registry: what the broker accounts are generated from.

Issue "Gateway" adds provisioning (add/disable/rotate) on top; the stack and
the tests need only the read side and a plain insert.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from civicgrid.domain.devices import validate_device_id


@dataclass(frozen=True, slots=True)
class DeviceCredentials:
    device_id: str
    secret_hash: str
    enabled: bool


def insert_device(conn: psycopg.Connection, device_id: str, kind: str, profile: str, secret_hash: str) -> None:
    validate_device_id(device_id)
    conn.execute(
        "INSERT INTO devices (id, kind, profile, secret_hash) VALUES (%s, %s, %s, %s)",
        (device_id, kind, profile, secret_hash),
    )


def enabled_credentials(conn: psycopg.Connection) -> list[DeviceCredentials]:
    """Credentials of every enabled device; disabled ones get no broker account at all."""
    rows = conn.execute("SELECT id, secret_hash, enabled FROM devices WHERE enabled ORDER BY id").fetchall()
    return [DeviceCredentials(*row) for row in rows]
