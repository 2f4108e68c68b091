"""The audit record of the city's rules (table ``rule_pack_audit``): who stored which version, when, what changed
against the version before it, and why.

A record is written by `civicgrid.store.rule_packs.store` in the transaction that stores the version, so every
version — loaded through the admin API, the CLI or a process started with ``rules_dir`` — has exactly one, and a
refused or unchanged pack has none. What changed is computed here from the two contents: the tables that differ,
and a short summary of the differences by path (``time_limits.categories.E0103: 2 days → 1 days``), the catalogue
compared category by category, so the admin's list reads as the change that was made, not as two JSON documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg

MAX_LINES = 12  # a summary longer than this ends "… and N more": the record is for people, the versions keep it all
_MAX_VALUE = 80


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    version: int
    previous_version: int | None
    at: datetime
    actor: str
    source: str
    digest: str
    tables_changed: list[str]
    summary: str
    reason: str | None


def _short(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, Mapping) and set(value) == {"amount", "unit"}:
        return f"{value['amount']} {value['unit']}"  # a time limit, as people say it
    text = value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return text if len(text) <= _MAX_VALUE else text[:_MAX_VALUE - 1] + "…"


def _by_code(rows: Any) -> dict[str, Any] | None:
    """A list of rows that each have a unique `code` (the catalogue's categories) as a mapping, else None."""
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) and "code" in r for r in rows):
        return None
    keyed = {str(r["code"]): r for r in rows}
    return keyed if len(keyed) == len(rows) else None


def _is_set(value: Any) -> bool:
    """A list of distinct plain values (an action's roles, the holidays, the working weekdays): read as a set."""
    return isinstance(value, list) and all(isinstance(v, str | int | float) and not isinstance(v, bool)
                                           for v in value) and len(set(value)) == len(value)


def _set_change(before: list[Any], after: list[Any]) -> str:
    """What was added to and removed from a list, item by item (``added operator; removed inspector``), so that
    giving operators the right to file reads as that, not as two lists; a reordering says so."""
    added = [v for v in after if v not in before]
    removed = [v for v in before if v not in after]
    parts = ([f"added {', '.join(map(str, added))}"] if added else []) + \
        ([f"removed {', '.join(map(str, removed))}"] if removed else [])
    return "; ".join(parts) or f"reordered {_short(before)} → {_short(after)}"


def _is_collection(value: Any) -> bool:
    """A table's mapping of names (not a row with a `code`, not a limit) or a list of plain values."""
    if isinstance(value, Mapping):
        return bool(value) and "code" not in value and set(value) != {"amount", "unit"}
    return _is_set(value) and bool(value)


def _diff(path: str, before: Any, after: Any, out: list[str]) -> None:
    if before == after:
        return
    # A collection added or removed whole (a new area class, its cells) reads as its entries, so the record says
    # `area_classes.core.E0102: added A`, not one JSON document; a row (a category) or a limit stays one line.
    if before is None and _is_collection(after):
        before = {} if isinstance(after, Mapping) else []
    elif after is None and _is_collection(before):
        after = {} if isinstance(before, Mapping) else []
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in [*before, *(k for k in after if k not in before)]:
            _diff(f"{path}.{key}", before.get(key), after.get(key), out)
        return
    keyed_before, keyed_after = _by_code(before), _by_code(after)
    if keyed_before is not None and keyed_after is not None:
        _diff(path, keyed_before, keyed_after, out)
        return
    if _is_set(before) and _is_set(after):
        out.append(f"{path}: {_set_change(before, after)}")
        return
    if before is None:
        out.append(f"{path}: added {_short(after)}")
    elif after is None:
        out.append(f"{path}: removed (was {_short(before)})")
    else:
        out.append(f"{path}: {_short(before)} → {_short(after)}")


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> tuple[list[str], str]:
    """(the tables that differ, a short summary in words) from the previous version's content to the new one's."""
    if before is None:
        return sorted(after), "first version: " + ", ".join(sorted(after))
    tables = [name for name in after if before.get(name) != after[name]]
    lines: list[str] = []
    for name in tables:
        _diff(name, before.get(name), after[name], lines)
    extra = len(lines) - MAX_LINES
    shown = lines[:MAX_LINES] + ([f"… and {extra} more"] if extra > 0 else [])
    return tables, "\n".join(shown) or "no change"


def record(conn: psycopg.Connection, *, version: int, previous_version: int | None, actor: str, source: str,
           digest: str, before: Mapping[str, Any] | None, after: Mapping[str, Any], reason: str | None) -> None:
    """Write the record of a version just stored; call it inside the transaction that stored it."""
    tables, summary = changes(before, after)
    conn.execute("INSERT INTO rule_pack_audit (version, previous_version, actor, source, digest, tables_changed, "
                 "summary, reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                 (version, previous_version, actor, source, digest, tables, summary, reason))


def history(conn: psycopg.Connection, *, limit: int = 50, before_version: int | None = None) -> list[AuditEntry]:
    """The newest records first; `before_version` pages back (the records of older versions only)."""
    rows = conn.execute(
        "SELECT id, version, previous_version, at, actor, source, digest, tables_changed, summary, reason "
        "FROM rule_pack_audit WHERE %(before)s::integer IS NULL OR version < %(before)s "
        "ORDER BY version DESC LIMIT %(limit)s", {"before": before_version, "limit": limit}).fetchall()
    return [AuditEntry(*row) for row in rows]
