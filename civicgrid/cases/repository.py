"""The case record's SQL: creation, merging evidence, transitions — each with its outbox row.

Only the case service (this package) writes case rows; the API's reads are in api/queries/cases.py.
Every change of a case happens in the caller's
transaction together with its ``case_events`` row, its scoring facts (civicgrid/store/case_facts.py) and an
``outbox`` row; the
outbox relay publishes that row on ``cg.case-events`` after the commit, so a
published transition always exists in the database and a committed one is
always published.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from civicgrid.bus import records
from civicgrid.bus.topics import CASE_EVENTS
from civicgrid.cases.snapshot import case_from_json, case_to_json
from civicgrid.domain.case_state import CaseState, Transition
from civicgrid.store import case_facts

OPEN = "state NOT IN ('closed', 'cancelled')"


class CaseNotFound(LookupError):
    def __init__(self, case_id: str) -> None:
        super().__init__(f"no case {case_id}")
        self.case_id = case_id


class CaseChanged(RuntimeError):
    """The case moved on since it was read (a concurrent action won)."""


@dataclass(frozen=True, slots=True)
class CaseDetails:
    """What the lifecycle does not track but the record keeps: where, what, evidence of the report."""

    component_code: str | None = None
    lon: float | None = None
    lat: float | None = None
    address: str | None = None
    description: str | None = None
    category_name: str | None = None
    outside_grid: bool = False


@dataclass(frozen=True, slots=True)
class Evidence:
    source_record_id: str
    kind: str
    at: datetime
    device_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def new_case_id() -> str:
    return str(uuid.uuid4())


def _event_row(conn: psycopg.Connection, transition: Transition) -> None:
    record = transition.record()
    conn.execute(
        "INSERT INTO case_events (time, case_id, seq, action, from_state, to_state, actor, role, note, payload) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (transition.at, transition.case_id, transition.seq, record["action"], record["from_state"],
         record["to_state"], transition.actor, record["role"], record["data"].get("note"), Jsonb(record)),
    )
    enqueue(conn, CASE_EVENTS, transition.case_id, {"v": records.SCHEMA_VERSION, **record})
    case_facts.maintain(conn, transition.case_id)  # the scoring facts move with the events (0023.case-facts)


def enqueue(conn: psycopg.Connection, topic: str, key: str, payload: dict[str, Any]) -> None:
    """An outbox row: published on `topic` by the relay after this transaction commits."""
    conn.execute("INSERT INTO outbox (topic, key, payload) VALUES (%s, %s, %s)", (topic, key, Jsonb(payload)))


def _columns(case: CaseState) -> dict[str, Any]:
    return {
        "state": case.state.value, "category_code": case.category, "grid_cell_code": case.cell,
        "department_id": case.department, "disposal_class": case.disposal_class and case.disposal_class.value,
        "disposal_deadline": case.disposal_deadline, "rework_count": case.reworks, "return_count": case.returns,
        "postpone_count": case.postponements, "close_type": case.close_type and case.close_type.value,
        "version": case.version, "snapshot": Jsonb(case_to_json(case)),
    }


def create_case(conn: psycopg.Connection, opened: Transition, details: CaseDetails, *,
                source_record_id: str | None, rules_version: int | None, evidence: Evidence | None = None) \
        -> tuple[str, bool]:
    """Insert the case opened by `opened`, filed under rules version `rules_version`; return (case id, created).

    Idempotent on `source_record_id`: a re-delivered report or alarm returns the
    existing case and changes nothing.
    """
    case = opened.case
    cols = _columns(case)
    row = conn.execute(
        "INSERT INTO cases (id, source, source_record_id, state, category_code, grid_cell_code, department_id, "
        "disposal_class, disposal_deadline, rework_count, return_count, postpone_count, close_type, version, "
        "snapshot, reported_at, component_code, lon, lat, address, description, category_name, outside_grid, "
        "rules_version, centre_id, case_no) VALUES (%(id)s::uuid, %(source)s, %(srid)s, %(state)s, %(category_code)s, "
        "%(grid_cell_code)s, %(department_id)s, %(disposal_class)s, %(disposal_deadline)s, %(rework_count)s, "
        "%(return_count)s, %(postpone_count)s, %(close_type)s, %(version)s, %(snapshot)s, %(reported_at)s, "
        "%(component_code)s, %(lon)s, %(lat)s, %(address)s, %(description)s, %(category_name)s, %(outside_grid)s, "
        "%(rules_version)s, centre_of_cell(%(grid_cell_code)s), "  # its centre (civicgrid/store/centres.py)
        "to_char(%(reported_at)s AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || '-' || "
        "upper(substr(replace(%(id)s::uuid::text, '-', ''), 1, 8))) "
        "ON CONFLICT (source_record_id) DO NOTHING RETURNING id",
        {**cols, "id": case.id, "source": case.source.value, "srid": source_record_id,
         "reported_at": case.reported_at, "component_code": details.component_code, "lon": details.lon,
         "lat": details.lat, "address": details.address, "description": details.description,
         "category_name": details.category_name, "outside_grid": details.outside_grid,
         "rules_version": rules_version},
    ).fetchone()
    if row is None:
        existing = conn.execute("SELECT id FROM cases WHERE source_record_id = %s", (source_record_id,)).fetchone()
        if existing is None:  # the conflict was on the id itself: a new_case_id() collision, never seen
            raise CaseChanged(f"case {case.id} exists already")
        return str(existing[0]), False
    _event_row(conn, opened)
    if evidence is not None:
        add_evidence(conn, case.id, evidence)
    return case.id, True


def add_evidence(conn: psycopg.Connection, case_id: str, evidence: Evidence) -> bool:
    """Attach evidence once (idempotent on its record id); True if it was new."""
    row = conn.execute(
        "INSERT INTO case_evidence (case_id, source_record_id, kind, at, device_id, data) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (source_record_id) DO NOTHING RETURNING id",
        (case_id, evidence.source_record_id, evidence.kind, evidence.at, evidence.device_id, Jsonb(evidence.data)),
    ).fetchone()
    if row is not None:
        conn.execute("UPDATE cases SET evidence_count = evidence_count + 1, last_evidence_at = "
                     "greatest(last_evidence_at, %s), updated_at = now() WHERE id = %s", (evidence.at, case_id))
    return row is not None


def evidence_exists(conn: psycopg.Connection, source_record_id: str) -> bool:
    return conn.execute("SELECT 1 FROM case_evidence WHERE source_record_id = %s",
                        (source_record_id,)).fetchone() is not None


def find_open_case(conn: psycopg.Connection, *, component_code: str | None, category_code: str,
                   grid_cell_code: str | None, since: datetime) -> str | None:
    """The open case a new problem merges into, locked: same component, else same category in the same
    cell reported after `since`.  Locks the row so two workers cannot both decide to open a case."""
    if component_code is not None:
        row = conn.execute(f"SELECT id FROM cases WHERE component_code = %s AND {OPEN} "
                           "ORDER BY reported_at LIMIT 1 FOR UPDATE", (component_code,)).fetchone()
        if row is not None:
            return str(row[0])
    if grid_cell_code is None:
        return None
    row = conn.execute(f"SELECT id FROM cases WHERE category_code = %s AND grid_cell_code = %s AND {OPEN} "
                       "AND reported_at >= %s ORDER BY reported_at LIMIT 1 FOR UPDATE",
                       (category_code, grid_cell_code, since)).fetchone()
    return None if row is None else str(row[0])


def lock_case(conn: psycopg.Connection, case_id: str) -> CaseState:
    """Read a case for a transition, holding its row lock until the transaction ends."""
    row = conn.execute("SELECT snapshot FROM cases WHERE id = %s FOR UPDATE", (case_id,)).fetchone()
    if row is None:
        raise CaseNotFound(case_id)
    return case_from_json(row[0])


def is_unlocated(conn: psycopg.Connection, case_id: str) -> bool:
    """The case came without a place and no operator has placed it yet (0017.unlocated-cases)."""
    row = conn.execute("SELECT unlocated FROM cases WHERE id = %s", (case_id,)).fetchone()
    return bool(row and row[0])


def rules_version(conn: psycopg.Connection, case_id: str) -> int | None:
    """The rules version the case was filed under (None: filed before versions existed)."""
    row = conn.execute("SELECT rules_version FROM cases WHERE id = %s", (case_id,)).fetchone()
    if row is None:
        raise CaseNotFound(case_id)
    return None if row[0] is None else int(row[0])


def record_transition(conn: psycopg.Connection, transition: Transition) -> None:
    """Persist a transition made by `lifecycle.apply` on a case read with `lock_case`."""
    case = transition.case
    cols = _columns(case)
    closed_at = transition.at if case.state.value == "closed" else None
    cur = conn.execute(
        "UPDATE cases SET state = %(state)s, category_code = coalesce(%(category_code)s, category_code), "
        "grid_cell_code = %(grid_cell_code)s, department_id = %(department_id)s, disposal_class = %(disposal_class)s, "
        "disposal_deadline = %(disposal_deadline)s, rework_count = %(rework_count)s, return_count = %(return_count)s, "
        "postpone_count = %(postpone_count)s, close_type = %(close_type)s, version = %(version)s, "
        "snapshot = %(snapshot)s, closed_at = coalesce(%(closed_at)s, closed_at), updated_at = now() "
        "WHERE id = %(id)s AND version = %(previous)s",
        {**cols, "id": transition.case_id, "previous": case.version - 1, "closed_at": closed_at},
    )
    if cur.rowcount != 1:
        raise CaseChanged(f"case {transition.case_id} changed since it was read")
    _event_row(conn, transition)


def open_cases_past(conn: psycopg.Connection, now: datetime, limit: int = 500) -> list[tuple[str, str, datetime]]:
    """(case id, deadline kind, deadline) of open cases whose disposal deadline passed and was not yet alerted."""
    rows = conn.execute(
        f"SELECT c.id, 'disposal', c.disposal_deadline FROM cases c WHERE {OPEN} AND state <> 'suspended' "
        "AND c.disposal_deadline < %s AND NOT EXISTS (SELECT 1 FROM case_deadline_alerts a WHERE a.case_id = c.id "
        "AND a.kind = 'disposal' AND a.deadline_at = c.disposal_deadline) ORDER BY c.disposal_deadline LIMIT %s",
        (now, limit),
    ).fetchall()
    return [(str(r[0]), r[1], r[2]) for r in rows]


def mark_alerted(conn: psycopg.Connection, case_id: str, kind: str, deadline_at: datetime) -> bool:
    """Claim the escalation of one (case, deadline); False if another worker already did."""
    row = conn.execute("INSERT INTO case_deadline_alerts (case_id, kind, deadline_at) VALUES (%s, %s, %s) "
                       "ON CONFLICT DO NOTHING RETURNING 1", (case_id, kind, deadline_at)).fetchone()
    return row is not None

