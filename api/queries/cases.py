"""Case reads only the API needs: the scoped, filtered, cursor-paged list and the detail with its timeline.

Scope is SQL, so a department's list, detail and actions all see the same cases: a
department handler sees the cases dispatched to its department; an inspector bound to a
responsibility grid sees the cases in that grid's cells (and unlocated ones); every other role sees all.
Pagination is by keyset on (reported_at, id), newest first, which stays fast at any depth
(index ``cases_reported_id``).
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from api.errors import ApiError
from api.queries import scope
from api.users import User

CASE_COLUMNS = ("c.id::text AS id, c.case_no, c.state, c.source, c.category_code, c.category_name, c.disposal_class, "
                "c.grid_cell_code, c.component_code, c.lon, c.lat, c.address, c.description, c.department_id, "
                "c.centre_id, "
                "c.reported_at, c.disposal_deadline, c.closed_at, c.close_type, c.rework_count, c.return_count, "
                "c.postpone_count, c.snapshot -> 'pending' ->> 'kind' AS pending, c.version, "
                "coalesce(c.rules_version, 1) AS rules_version, "  # NULL: before versions, judged by 1 (docs/rules.md)
                "c.unlocated, "
                # What the case's next step depends on, from the lifecycle's snapshot (the list reads no timeline).
                "coalesce((c.snapshot ->> 'verified')::boolean, false) AS verified, "
                "coalesce((c.snapshot ->> 'check_passed')::boolean, false) AS check_passed, "
                "(c.snapshot ->> 'accepted_at')::timestamptz AS accepted_at, "
                "(c.snapshot ->> 'dispatched_at')::timestamptz AS dispatched_at, "
                "c.snapshot ->> 'merged_into' AS merged_into")


def scope_sql(user: User) -> tuple[str, dict[str, Any]]:
    """WHERE fragment (on alias ``c``) limiting cases to what `user` may see (api/queries/scope.py); unlocated
    cases (no cell) are every inspector's to verify."""
    return scope.scope_sql(user, "c", unlocated_visible=True)


@dataclass(frozen=True, slots=True)
class CaseFilter:
    state: list[str] | None = None
    source: str | None = None
    category_code: str | None = None
    cell_prefix: str | None = None
    department_id: str | None = None
    overdue: bool | None = None
    reported_from: datetime | None = None
    reported_to: datetime | None = None


def encode_cursor(reported_at: datetime, case_id: str) -> str:
    return base64.urlsafe_b64encode(f"{reported_at.isoformat()}|{case_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, case_id = text.split("|", 1)
        return datetime.fromisoformat(at), str(uuid.UUID(case_id))
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, "bad-cursor", "cursor is not one this API returned") from None


def list_cases(conn: psycopg.Connection, user: User, f: CaseFilter, now: datetime, limit: int,
               cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    scope, params = scope_sql(user)
    where = [scope]
    params = {**params, "limit": limit + 1, "now": now}
    if f.state:
        where.append("c.state = ANY(%(state)s)")
        params["state"] = f.state
    if f.source:
        where.append("c.source = %(source)s")
        params["source"] = f.source
    if f.category_code:
        # A major (E01) selects its minors; a minor selects itself.
        where.append("c.category_code LIKE %(category)s")
        params["category"] = f.category_code + "%"
    if f.cell_prefix:
        where.append("c.grid_cell_code LIKE %(cell_prefix)s")
        params["cell_prefix"] = f.cell_prefix + "%"
    if f.department_id:
        where.append("c.department_id = %(department)s")
        params["department"] = f.department_id
    if f.overdue is not None:
        overdue = ("((c.state NOT IN ('closed', 'cancelled', 'suspended') AND c.disposal_deadline < %(now)s) "
                   "OR c.close_type = 'overdue')")
        where.append(overdue if f.overdue else f"NOT {overdue}")
    if f.reported_from:
        where.append("c.reported_at >= %(reported_from)s")
        params["reported_from"] = f.reported_from
    if f.reported_to:
        where.append("c.reported_at < %(reported_to)s")
        params["reported_to"] = f.reported_to
    if cursor:
        at, case_id = decode_cursor(cursor)
        where.append("(c.reported_at, c.id) < (%(cursor_at)s, %(cursor_id)s::uuid)")
        params.update(cursor_at=at, cursor_id=case_id)
    sql = (f"SELECT {CASE_COLUMNS} FROM cases c WHERE {' AND '.join(where)} "
           "ORDER BY c.reported_at DESC, c.id DESC LIMIT %(limit)s")
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql, params).fetchall()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["reported_at"], rows[-1]["id"])
    return rows, next_cursor


def get_case(conn: psycopg.Connection, user: User, case_id: str, *, scoped: bool = True) -> dict[str, Any] | None:
    """The case row if it exists and lies in the caller's scope (`scoped=False`: its reporter, just now)."""
    scope, params = scope_sql(user) if scoped else ("TRUE", {})
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT {CASE_COLUMNS}, c.snapshot FROM cases c WHERE c.id = %(id)s AND {scope}",
                           {**params, "id": case_id}).fetchone()


def find_case_id(conn: psycopg.Connection, ident: str) -> str | None:
    """A case by uuid or by case number (the Open311 service_request_id); each an index lookup (an anonymous
    GET must not cost a scan of every case)."""
    try:
        case_id = uuid.UUID(ident)
    except ValueError:
        row = conn.execute("SELECT id::text FROM cases WHERE case_no = %s", (ident,)).fetchone()
    else:
        row = conn.execute("SELECT id::text FROM cases WHERE id = %s", (case_id,)).fetchone()
    return None if row is None else row[0]


def in_scope(conn: psycopg.Connection, user: User, case_id: str) -> bool:
    scope, params = scope_sql(user)
    return conn.execute(f"SELECT 1 FROM cases c WHERE c.id = %(id)s AND {scope}",
                        {**params, "id": case_id}).fetchone() is not None


# A case detail carries at most this many of the newest timeline entries and evidence rows: a flapping
# sensor merged into one case for months must not make its detail megabytes (the totals say how many).
DETAIL_MAX_ROWS = 500


def timeline(conn: psycopg.Connection, case_id: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT seq, time AS at, action, from_state, to_state, actor, role, note, "
                           "coalesce(payload -> 'data', '{}') AS data FROM case_events WHERE case_id = %s "
                           "ORDER BY seq DESC LIMIT %s", (case_id, DETAIL_MAX_ROWS)).fetchall()
    return rows[::-1]


def evidence(conn: psycopg.Connection, case_id: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT id, kind, at, device_id, data FROM case_evidence WHERE case_id = %s "
                           "ORDER BY at DESC, id DESC LIMIT %s", (case_id, DETAIL_MAX_ROWS)).fetchall()
    return rows[::-1]


def detail_totals(conn: psycopg.Connection, case_id: str) -> tuple[int, int]:
    """(timeline entries, evidence rows) of a case, however many its detail shows."""
    return conn.execute("SELECT (SELECT count(*) FROM case_events WHERE case_id = %(id)s), "
                        "(SELECT count(*) FROM case_evidence WHERE case_id = %(id)s)", {"id": case_id}).fetchone()

