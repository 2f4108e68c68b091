"""The intake screen's reads (SQL only the API needs): open cases waiting for a place."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row


def unlocated(conn: psycopg.Connection, limit: int) -> list[dict[str, Any]]:
    """Open unlocated cases, oldest first (the partial index cases_unlocated, migration 0017)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT id::text AS id, case_no, state, source, category_code, category_name, address, description, "
            "reported_at FROM cases WHERE unlocated AND state NOT IN ('closed', 'cancelled') "
            "ORDER BY reported_at LIMIT %s", (limit,)).fetchall()


def latest_snapshot(conn: psycopg.Connection, device_id: str) -> tuple[bytes, Any] | None:
    """The camera's latest snapshot and when it was taken."""
    row = conn.execute("SELECT latest_snapshot, latest_snapshot_at FROM camera_status WHERE device_id = %s",
                       (device_id,)).fetchone()
    return (bytes(row[0]), row[1]) if row and row[0] is not None else None
