"""The live feed's reads: new rows of ``feed_events`` (filled by triggers on alarms and case_events).

Paging is by (xid, id) and stops at the oldest transaction still running
(`pg_snapshot_xmin`): every row below that point is committed or never will be, so a
client resuming from an event id never misses a row that committed late.
"""

from __future__ import annotations

from typing import Any

import psycopg

from api.queries import scope
from api.users import User

KINDS = ("alarm", "case_event", "alarm_ack")


def scope_sql(user: User) -> tuple[str, dict[str, Any]]:
    """WHERE fragment (on alias ``f``) limiting feed events to what `user` may see (api/queries/scope.py)."""
    return scope.scope_sql(user, "f")


def parse_event_id(value: str | None) -> tuple[int, int] | None:
    """`"<xid>-<id>"` as sent in the SSE `id:` field; None when absent or malformed."""
    if not value:
        return None
    xid, _, row = value.strip().partition("-")
    if not (xid.isdigit() and row.isdigit()):
        return None
    return int(xid), int(row)


def horizon(conn: psycopg.Connection) -> int:
    """The oldest running transaction id: every feed row below it is settled (committed or never)."""
    row = conn.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text").fetchone()
    assert row is not None
    return int(row[0])


def start_position(conn: psycopg.Connection) -> tuple[int, int]:
    """Where a new subscriber starts: after everything already settled (it sees only new events)."""
    return horizon(conn) - 1, 2**62


def read_after(conn: psycopg.Connection, user: User, position: tuple[int, int], kinds: tuple[str, ...],
               limit: int = 500) -> tuple[list[tuple[str, str, dict[str, Any]]], tuple[int, int]]:
    """(event id, kind, payload) of settled rows after `position` in the user's scope, in order, and the
    position to continue from — past out-of-scope rows too, so a quiet scope does not rescan them."""
    settled = horizon(conn)
    scope, params = scope_sql(user)
    rows = conn.execute(
        f"SELECT f.xid::text, f.id, f.kind, f.payload FROM feed_events f WHERE (f.xid, f.id) > "
        f"(%(xid)s::text::xid8, %(id)s) AND f.xid < %(settled)s::text::xid8 "
        f"AND f.kind = ANY(%(kinds)s) AND {scope} ORDER BY f.xid, f.id LIMIT %(limit)s",
        {**params, "xid": str(position[0]), "id": position[1], "settled": str(settled), "kinds": list(kinds),
         "limit": limit},
    ).fetchall()
    events = [(f"{xid}-{row_id}", kind, payload) for xid, row_id, kind, payload in rows]
    if len(rows) == limit:
        return events, (int(rows[-1][0]), int(rows[-1][1]))
    return events, max(position, (settled - 1, 2**62))
