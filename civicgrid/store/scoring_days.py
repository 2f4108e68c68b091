"""Daily rollups of the scoring facts: what a department or region table counts, per local day, kept by difference
in the transaction that writes the facts (migration 0033).

Why: a table used to group the period's rows of ``case_facts`` on every request, and those grow with the city —
411,000 for one month of a 10 M-case record, p99 565 ms, and a year twelve times that. A day's rollup holds one
row per department, per unit grid cell and per rules version, so a table for any period made of whole days
(day, 旬, month, year: api/routes/scoring.py) reads at most days × (departments + cells) small rows. The post
tables still read the facts (their step lists are per person, and a person's rows are few).

How: `move` is called by `civicgrid.store.case_facts.write` with each case's facts as they were before this
transaction and as they are now; every rollup row a case counts in moves by new − old
(``INSERT … ON CONFLICT DO UPDATE SET n = n + delta``). The keys go in sorted order, so two transactions touching
the same rows never wait on each other crosswise, and under READ COMMITTED the update adds to the row's newest
committed value: concurrent writers never lose each other's counts. `contributions` is the one place that says
which counters a case's facts add to; api/queries/scoring.py sums them, and
tests/integration/cases/test_scoring_maintained.py holds the tables equal to the reference replay.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import psycopg

from civicgrid.domain.working_calendar import CHINA_TZ

# Counters per rollup, in column order. A department counts the cases dispatched to it; a cell the cases located
# in it (`cases`: any, so a region with cases but none filed still has its row, as the facts' read gave it).
DEPARTMENT = ("due", "closed", "on_time", "reworks", "disposals")
CELL = ("cases", "filed", "public", "due", "closed", "by_deadline")
VERSION = ("cases",)
TABLES = {"department": ("scoring_department_days", "department", DEPARTMENT),
          "cell": ("scoring_cell_days", "cell", CELL),
          "version": ("scoring_version_days", "rules_version", VERSION)}
# The facts columns the rollups are made of (civicgrid/store/case_facts.py COLUMNS).
FIELDS = ("case_id", "reported_at", "rules_version", "source", "cell", "verified", "filed", "cancelled",
          "dispatchers", "department", "closed", "disposed_on_time", "reworks", "disposals", "closed_by_deadline")

Key = tuple[str, date, Any]  # (rollup, local day, subject)


def day_of(reported_at: datetime) -> date:
    """The city's local day a case belongs to (the periods of api/routes/scoring.py are whole such days)."""
    return reported_at.astimezone(CHINA_TZ).date()


def contributions(facts: Mapping[str, Any]) -> dict[Key, tuple[int, ...]]:
    """What one case's facts add to each rollup row (the conditions of the former grouped reads of the facts)."""
    day = day_of(facts["reported_at"])
    out: dict[Key, tuple[int, ...]] = {("version", day, facts["rules_version"] or 1): (1,)}
    if facts["dispatchers"] and facts["department"]:
        out[("department", day, facts["department"])] = (
            1, int(bool(facts["closed"])), int(facts["disposed_on_time"] is True), int(facts["reworks"]),
            int(facts["disposals"]))
    if facts["cell"] is not None:
        filed = bool(facts["filed"])
        kept = filed and not facts["cancelled"]
        closed = kept and bool(facts["closed"])
        out[("cell", day, facts["cell"])] = (
            1, int(filed), int(filed and facts["source"] == "hotline" and bool(facts["verified"])), int(kept),
            int(closed), int(closed and bool(facts["closed_by_deadline"])))
    return out


def deltas(before: Iterable[Mapping[str, Any]], after: Iterable[Mapping[str, Any]]) -> dict[Key, tuple[int, ...]]:
    """The change of every rollup row from the facts `before` to the facts `after` (rows that did not move are
    left out)."""
    total: dict[Key, list[int]] = {}
    for sign, rows in ((-1, before), (1, after)):
        for facts in rows:
            for key, values in contributions(facts).items():
                acc = total.setdefault(key, [0] * len(values))
                for i, v in enumerate(values):
                    acc[i] += sign * v
    return {k: tuple(v) for k, v in total.items() if any(v)}


def move(conn: psycopg.Connection, before: Iterable[Mapping[str, Any]], after: Iterable[Mapping[str, Any]]) -> None:
    """Apply `deltas(before, after)` to the rollup tables, in the caller's transaction, keys in sorted order."""
    by_table: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for (rollup, day, subject), values in sorted(deltas(before, after).items(), key=lambda kv: (
            kv[0][0], kv[0][1], str(kv[0][2]))):
        by_table[rollup].append((day, subject, *values))
    for rollup, rows in by_table.items():
        table, subject, counters = TABLES[rollup]
        columns = ("day", subject, *counters)
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
                f"ON CONFLICT (day, {subject}) DO UPDATE SET "
                + ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in counters), rows)
