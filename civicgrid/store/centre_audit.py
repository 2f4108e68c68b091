"""The audit record of the centres (table ``centre_audit``, migration 0035): who added, changed or removed a centre,
when, what before → after, and why — the centres' counterpart of the rules' record (civicgrid/store/rule_audit.py).

A record is written by `civicgrid.store.centres` in the transaction that makes the change, so a change never exists
without its record, and a write that changes nothing (the same fields again) or is refused leaves none. The summary
names each field that changed (``cell_prefix: 320402 → 320404``), so the centres page reads as the change made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb

FIELDS = ("name", "name_en", "level", "cell_prefix", "parent_id")  # a centre's fields, as the summary names them

Change = Literal["added", "changed", "removed"]


@dataclass(frozen=True, slots=True)
class CentreAuditEntry:
    id: int
    centre_id: str
    at: datetime
    actor: str
    change: Change
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    summary: str
    reason: str | None


def _word(value: Any) -> str:
    return "—" if value in (None, "") else str(value)


def summary(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> str:
    """The change in words: an added or removed centre's fields, a changed one's fields before → after."""
    if before is None or after is None:
        fields = after if before is None else before
        assert fields is not None
        return "; ".join(f"{k}: {_word(fields.get(k))}" for k in FIELDS)
    return "; ".join(f"{k}: {_word(before.get(k))} → {_word(after.get(k))}"
                     for k in FIELDS if before.get(k) != after.get(k))


def change_of(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> Change | None:
    """What kind of change turns `before` into `after` (None: nothing changed, so nothing to record)."""
    if before is None:
        return "added"
    if after is None:
        return "removed"
    return "changed" if any(before.get(k) != after.get(k) for k in FIELDS) else None


def record(conn: psycopg.Connection, centre_id: str, *, actor: str, before: Mapping[str, Any] | None,
           after: Mapping[str, Any] | None, reason: str | None) -> bool:
    """Write the record of a change just made (inside its transaction); False when nothing changed."""
    change = change_of(before, after)
    if change is None:
        return False
    conn.execute("INSERT INTO centre_audit (centre_id, actor, change, before, after, summary, reason) "
                 "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                 (centre_id, actor, change, None if before is None else Jsonb(dict(before)),
                  None if after is None else Jsonb(dict(after)), summary(before, after), reason))
    return True


def history(conn: psycopg.Connection, *, centre_id: str | None = None, limit: int = 50,
            before_id: int | None = None) -> list[CentreAuditEntry]:
    """The newest records first, of one centre or all; `before_id` pages back."""
    rows = conn.execute(
        "SELECT id, centre_id, at, actor, change, before, after, summary, reason FROM centre_audit "
        "WHERE (%(centre)s::text IS NULL OR centre_id = %(centre)s) "
        "AND (%(before)s::bigint IS NULL OR id < %(before)s) "
        "ORDER BY id DESC LIMIT %(limit)s", {"centre": centre_id, "before": before_id, "limit": limit}).fetchall()
    return [CentreAuditEntry(*row) for row in rows]
