"""The downlink command record (``device_commands``): written when a command is issued (a console command,
a field task) and moved forward by the acks the devices send. Reads for the API are in api/queries/devices.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def record_command(conn: psycopg.Connection, command_id: str, device_id: str, name: str, args: dict[str, Any],
                   issued_by: str, issued_at: datetime, timeout_s: float) -> None:
    # The ack reader may have stored the first ack already (it can beat this insert): keep its status.
    conn.execute(
        "INSERT INTO device_commands (command_id, device_id, name, args, issued_by, issued_at, timeout_s) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (command_id) DO UPDATE SET name = EXCLUDED.name, "
        "args = EXCLUDED.args, issued_by = EXCLUDED.issued_by, issued_at = EXCLUDED.issued_at, "
        "timeout_s = EXCLUDED.timeout_s",
        (command_id, device_id, name, Jsonb(args), issued_by, issued_at, timeout_s))


_RANK = "CASE %s WHEN 'queued' THEN 0 WHEN 'sent' THEN 1 ELSE 2 END"


def apply_ack(conn: psycopg.Connection, command_id: str, device_id: str, status: str, at: datetime,
              detail: str) -> None:
    """Move a command forward (queued → sent → acked | failed | timed_out); never backwards."""
    conn.execute(
        "INSERT INTO device_commands AS c (command_id, device_id, name, issued_at, timeout_s, status, detail, "
        "updated_at) VALUES (%(id)s, %(device)s, '', %(at)s, 0, %(status)s, %(detail)s, %(at)s) "
        "ON CONFLICT (command_id) DO UPDATE SET status = EXCLUDED.status, detail = EXCLUDED.detail, "
        "updated_at = EXCLUDED.updated_at WHERE " + (_RANK % "EXCLUDED.status") + " > " + (_RANK % "c.status"),
        {"id": command_id, "device": device_id, "status": status, "detail": detail, "at": at})
