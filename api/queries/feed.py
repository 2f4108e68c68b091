"""The live feed's reads: new rows of ``feed_events`` (filled by triggers on alarms and case_events).

Paging is by (xid, id) and stops at the oldest transaction still running
(`pg_snapshot_xmin`): every row below that point is committed or never will be, so a
client resuming from an event id never misses a row that committed late.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from api.queries import scope
from api.users import User
from civicgrid.store.centres import read_tree

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
               until: tuple[int, int], limit: int = 500) -> tuple[list[tuple[str, str, dict[str, Any]]],
                                                               tuple[int, int]]:
    """(event id, kind, payload) of rows after `position` up to `until` (a settled position) in the user's scope,
    in order, and the position to continue from — past out-of-scope rows too, so a quiet scope does not
    rescan them. A resuming stream's catch-up before it joins the shared poller (api/feed_hub.py)."""
    scope, params = scope_sql(user)
    rows = conn.execute(
        f"SELECT f.xid::text, f.id, f.kind, f.payload FROM feed_events f WHERE (f.xid, f.id) > "
        f"(%(xid)s::text::xid8, %(id)s) AND (f.xid, f.id) <= (%(until_xid)s::text::xid8, %(until_id)s) "
        f"AND f.kind = ANY(%(kinds)s) AND {scope} ORDER BY f.xid, f.id LIMIT %(limit)s",
        {**params, "xid": str(position[0]), "id": position[1], "until_xid": str(until[0]), "until_id": until[1],
         "kinds": list(kinds), "limit": limit},
    ).fetchall()
    events = [(f"{xid}-{row_id}", kind, payload) for xid, row_id, kind, payload in rows]
    if len(rows) == limit:
        return events, (int(rows[-1][0]), int(rows[-1][1]))
    return events, until


@dataclass(frozen=True, slots=True)
class FeedRow:
    """A settled feed event with what the scope rule needs (api/queries/scope.py `Scope.admits`)."""

    position: tuple[int, int]
    kind: str
    payload: dict[str, Any]
    department_id: str | None
    responsibility_grid_id: str | None
    centre_id: str | None = None

    @property
    def event_id(self) -> str:
        return f"{self.position[0]}-{self.position[1]}"


def read_all_after(conn: psycopg.Connection, position: tuple[int, int],
                   limit: int = 1000) -> tuple[list[FeedRow], tuple[int, int]]:
    """Every settled row after `position`, unscoped, with its scope columns: the shared poller's one read
    for all open streams. Returns the rows and the position to continue from."""
    settled = horizon(conn)
    rows = conn.execute(
        "SELECT f.xid::text, f.id, f.kind, f.payload, f.department_id, g.responsibility_grid_id, f.centre_id "
        "FROM feed_events f LEFT JOIN grid_cells g ON g.code = f.grid_cell_code "
        "WHERE (f.xid, f.id) > (%(xid)s::text::xid8, %(id)s) AND f.xid < %(settled)s::text::xid8 "
        "ORDER BY f.xid, f.id LIMIT %(limit)s",
        {"xid": str(position[0]), "id": position[1], "settled": str(settled), "limit": limit},
    ).fetchall()
    out = [FeedRow((int(xid), int(row_id)), kind, payload, department, grid, centre)
           for xid, row_id, kind, payload, department, grid, centre in rows]
    if len(rows) == limit:
        return out, out[-1].position
    return out, max(position, (settled - 1, 2**62))


def centres_within(conn: psycopg.Connection, user: User) -> frozenset[str] | None:
    """The centres a district user's streams admit (api/queries/scope.py), read once when a stream joins."""
    return read_tree(conn).within(user.centre_id) if user.centre_id else None


def enabled_among(conn: psycopg.Connection, user_ids: list[int]) -> set[int]:
    """Which of these users are still enabled (a disabled user's open streams end at the next poll)."""
    rows = conn.execute("SELECT id FROM users WHERE id = ANY(%s) AND enabled", (user_ids,)).fetchall()
    return {int(r[0]) for r in rows}
