"""The deadline watch's tables (migration 0019): each open case's running step clocks and the version they were
read at.

`case_step_clocks` holds one row per running step instance — (case, step, started_at) — with the moment its
warning is due, its deadline, and the marks of what the watch recorded. `case_step_watch` holds the case version
the clocks were read at: a case whose version moved since is read again (`changed_cases`). Marks live on the row
of the instance and survive a re-read of the same instance (an upsert keeps them), so a worker restart or a
second worker never records an event twice. Only the watch (civicgrid/cases/deadlines.py) writes here; the
case list reads its lights here (`step_lights`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import psycopg

from civicgrid.domain.time_limits import Light

Level = Literal["warning", "overdue"]
_MARK = {"warning": "warned_at", "overdue": "overdue_at"}


@dataclass(frozen=True, slots=True)
class ClockRow:
    """A running step clock as stored: when its warning and its deadline fall."""

    step: str
    started_at: datetime
    warn_at: datetime
    deadline_at: datetime


@dataclass(frozen=True, slots=True)
class Due:
    """An event the watch owes: a clock's warning or overdue event."""

    case_id: str
    step: str
    started_at: datetime
    level: Level
    at: datetime  # the warning moment or the deadline


def changed_cases(conn: psycopg.Connection, limit: int) -> list[str]:
    """Cases whose clocks must be read (again): open ones never read, and read ones whose version moved."""
    rows = conn.execute(
        "(SELECT c.id FROM cases c WHERE c.state NOT IN ('closed', 'cancelled') "
        " AND NOT EXISTS (SELECT 1 FROM case_step_watch w WHERE w.case_id = c.id) LIMIT %(n)s) "
        "UNION ALL (SELECT w.case_id FROM case_step_watch w JOIN cases c ON c.id = w.case_id "
        " WHERE w.synced_version <> c.version LIMIT %(n)s) LIMIT %(n)s", {"n": limit}).fetchall()
    return [str(r[0]) for r in rows]


def synced_version(conn: psycopg.Connection, case_id: str) -> int | None:
    row = conn.execute("SELECT synced_version FROM case_step_watch WHERE case_id = %s", (case_id,)).fetchone()
    return None if row is None else int(row[0])


def replace_clocks(conn: psycopg.Connection, case_id: str, version: int, running: Sequence[ClockRow] | None) -> None:
    """The case's running clocks as read at `version` (None: the case has ended, forget it). A clock that goes on
    keeps its marks; a disposal clock whose deadline the earlier watch (table case_deadline_alerts) already
    escalated starts marked, so an upgrade repeats nothing."""
    if running is None:
        conn.execute("DELETE FROM case_step_clocks WHERE case_id = %s", (case_id,))
        conn.execute("DELETE FROM case_step_watch WHERE case_id = %s", (case_id,))
        return
    conn.execute("DELETE FROM case_step_clocks WHERE case_id = %s AND (step, started_at) NOT IN "
                 "(SELECT * FROM unnest(%s::text[], %s::timestamptz[]))",
                 (case_id, [c.step for c in running], [c.started_at for c in running]))
    for c in running:
        conn.execute(
            "INSERT INTO case_step_clocks (case_id, step, started_at, warn_at, deadline_at, warned_at, overdue_at) "
            "SELECT %(case)s, %(step)s, %(start)s, %(warn)s, %(due)s, legacy.at, legacy.at FROM (SELECT ("
            "  SELECT a.alerted_at FROM case_deadline_alerts a WHERE %(step)s = 'dispose' AND a.case_id = %(case)s"
            "  AND a.kind = 'disposal' AND a.deadline_at = %(due)s) AS at) legacy "
            "ON CONFLICT (case_id, step, started_at) DO UPDATE SET warn_at = EXCLUDED.warn_at, "
            "deadline_at = EXCLUDED.deadline_at",
            {"case": case_id, "step": c.step, "start": c.started_at, "warn": c.warn_at, "due": c.deadline_at})
    conn.execute("INSERT INTO case_step_watch (case_id, synced_version) VALUES (%s, %s) ON CONFLICT (case_id) "
                 "DO UPDATE SET synced_version = EXCLUDED.synced_version", (case_id, version))


def move_synced(conn: psycopg.Connection, case_id: str, before: int, after: int) -> None:
    """The watch's own events changed no clock: the clocks read at `before` hold at `after` too."""
    conn.execute("UPDATE case_step_watch SET synced_version = %s WHERE case_id = %s AND synced_version = %s",
                 (after, case_id, before))


def due(conn: psycopg.Connection, now: datetime, limit: int) -> list[Due]:
    """Warnings whose moment came and deadlines that passed (strictly: finishing at the deadline is on time), not
    yet recorded, of cases not suspended (挂账 stops every clock), oldest first."""
    rows = conn.execute(
        "SELECT * FROM ("
        " SELECT k.case_id, k.step, k.started_at, 'warning' AS level, k.warn_at AS at FROM case_step_clocks k "
        " JOIN cases c ON c.id = k.case_id WHERE k.warned_at IS NULL AND k.warn_at <= %(now)s "
        " AND c.state NOT IN ('suspended', 'closed', 'cancelled') "
        " UNION ALL "
        " SELECT k.case_id, k.step, k.started_at, 'overdue', k.deadline_at FROM case_step_clocks k "
        " JOIN cases c ON c.id = k.case_id WHERE k.overdue_at IS NULL AND k.deadline_at < %(now)s "
        " AND c.state NOT IN ('suspended', 'closed', 'cancelled')"
        ") d ORDER BY at, level DESC LIMIT %(n)s", {"now": now, "n": limit}).fetchall()
    return [Due(str(r[0]), r[1], r[2], r[3], r[4]) for r in rows]


def clock(conn: psycopg.Connection, case_id: str, step: str,
          started_at: datetime) -> tuple[ClockRow, bool, bool] | None:
    """One stored clock with whether its warning and its overdue event were recorded; None when not running."""
    row = conn.execute("SELECT warn_at, deadline_at, warned_at IS NOT NULL, overdue_at IS NOT NULL "
                       "FROM case_step_clocks WHERE case_id = %s AND step = %s AND started_at = %s",
                       (case_id, step, started_at)).fetchone()
    return None if row is None else (ClockRow(step, started_at, row[0], row[1]), row[2], row[3])


def mark(conn: psycopg.Connection, case_id: str, step: str, started_at: datetime, level: Level,
         at: datetime) -> bool:
    """Claim one event of one clock; False if it was recorded already (by another worker)."""
    row = conn.execute(f"UPDATE case_step_clocks SET {_MARK[level]} = %s WHERE case_id = %s AND step = %s "
                       f"AND started_at = %s AND {_MARK[level]} IS NULL RETURNING 1",
                       (at, case_id, step, started_at)).fetchone()
    return row is not None


def step_lights(conn: psycopg.Connection, case_ids: Sequence[str], now: datetime) -> dict[str, tuple[Light, str]]:
    """The board's light of each case from its running step clocks: (light, step) of its most urgent clock — red
    past its deadline, yellow past its warning, else green; of two alike, the one due first. Only clocks read at
    the case's current version count (a case that moved since the watch's last round has none here: the caller
    falls back on disposal's light)."""
    best: dict[str, tuple[Light, str, datetime]] = {}
    rows = conn.execute(
        "SELECT k.case_id, k.step, k.warn_at, k.deadline_at FROM case_step_clocks k "
        "JOIN case_step_watch w ON w.case_id = k.case_id JOIN cases c ON c.id = k.case_id "
        "WHERE k.case_id = ANY(%s::uuid[]) AND w.synced_version = c.version", (list(case_ids),)).fetchall()
    for case_id, step, warn_at, deadline_at in rows:
        light = Light.RED if now > deadline_at else Light.YELLOW if now > warn_at else Light.GREEN
        key = str(case_id)
        if key not in best or (_RANK[light], best[key][2]) > (_RANK[best[key][0]], deadline_at):
            best[key] = (light, step, deadline_at)  # the more urgent light; of two alike, the nearer deadline
    return {key: (light, step) for key, (light, step, _) in best.items()}


_RANK = {Light.GREEN: 0, Light.YELLOW: 1, Light.RED: 2}


def worse(a: Light | None, b: Light | None) -> Light | None:
    """The more urgent of two lights (None: no clock)."""
    if a is None or b is None:
        return a or b
    return a if _RANK[a] >= _RANK[b] else b
