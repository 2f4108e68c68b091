"""The reference replay of the per-case facts CJ/T 292 evaluation counts (``case_facts_cache``), and the backfill
of the maintained table from it.

Scoring reads the facts the case service keeps with each event (civicgrid/store/case_facts.py, migration 0023);
this replay is what they are tested against (tests/integration/cases/test_scoring_maintained.py), and `backfill`
fills them for cases whose events were written without the service.

`civicgrid.domain.case_facts` replays each case's event records — correct, but too slow to
redo for tens of thousands of cases per request. The facts of a case are therefore
stored with the case version they were computed at and recomputed only for cases that
changed since (any writer: API or streams), each by the rules version it was filed under. This module is the
cache's only writer and reader (its JSON shape is defined once, here); api/queries/scoring.py turns the facts
into tables.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from civicgrid.cases import Rules
from civicgrid.cases.rulebook import RuleBook
from civicgrid.domain.case_facts import CaseFacts, case_facts
from civicgrid.store import case_facts as maintained

CHUNK = 2000


def _to_json(f: CaseFacts) -> dict[str, Any]:
    out = dataclasses.asdict(f)
    out["reported_at"] = f.reported_at.isoformat()
    return out


def _from_json(data: dict[str, Any]) -> CaseFacts:
    values = dict(data)
    values["reported_at"] = datetime.fromisoformat(values["reported_at"])
    values["dispatchers"] = [tuple(x) for x in values.get("dispatchers", ())]
    values["checks"] = [tuple(x) for x in values.get("checks", ())]
    return CaseFacts(**values)


def refresh_facts(book: RuleBook, conn: psycopg.Connection, start: datetime, end: datetime) -> int:
    """Recompute the facts of the period's cases that changed since they were cached; return how many.

    Each case is judged on time by the limits, calendar and catalogue of the rules version it was filed under
    (docs/rules.md), not the current one: a reload with shorter limits changes no verdict already due."""
    stale = conn.execute(
        "SELECT c.id, c.version, c.reported_at, c.rules_version FROM cases c "
        "LEFT JOIN case_facts_cache f ON f.case_id = c.id "
        "WHERE c.reported_at >= %s AND c.reported_at < %s AND (f.case_id IS NULL OR f.version <> c.version)",
        (start, end)).fetchall()
    by_version: dict[int | None, list[tuple[Any, int, datetime]]] = defaultdict(list)
    for case_id, version, reported_at, rules_version in stale:
        by_version[rules_version].append((case_id, version, reported_at))
    for rules_version, cases in by_version.items():
        rules = book.rules(conn, rules_version)
        for i in range(0, len(cases), CHUNK):
            _refresh(rules, conn, cases[i:i + CHUNK])
    return len(stale)


def _refresh(rules: Rules, conn: psycopg.Connection, part: list[tuple[Any, int, datetime]]) -> None:
    events = conn.execute("SELECT payload FROM case_events WHERE case_id = ANY(%s)",
                          ([r[0] for r in part],)).fetchall()
    facts = {f.case_id: f for f in case_facts((e[0] for e in events), rules.limits, rules.calendar,
                                               catalogue=rules.catalogue)}
    rows = [(str(case_id), version, reported_at, Jsonb(_to_json(facts[str(case_id)])))
            for case_id, version, reported_at in part if str(case_id) in facts]
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany("INSERT INTO case_facts_cache (case_id, version, reported_at, facts) "
                        "VALUES (%s, %s, %s, %s) ON CONFLICT (case_id) DO UPDATE SET version = EXCLUDED.version, "
                        "facts = EXCLUDED.facts", rows)


def load_facts(conn: psycopg.Connection, start: datetime, end: datetime) -> list[CaseFacts]:
    """The cached facts of the cases reported in [start, end) (call `refresh_facts` first)."""
    rows = conn.execute("SELECT facts FROM case_facts_cache WHERE reported_at >= %s AND reported_at < %s",
                        (start, end)).fetchall()
    return [_from_json(r[0]) for r in rows]


def backfill(book: RuleBook, conn: psycopg.Connection, start: datetime, end: datetime) -> int:
    """Fill the maintained table (civicgrid/store/case_facts.py) for the period's cases it lacks or has at an older
    version: those whose events were written before migration 0023 or by SQL of their own (bench/api.py's
    synthetic county). The case service keeps every other case up to date itself. Returns how many it wrote."""
    stale = conn.execute(
        "SELECT c.id, c.version, c.rules_version FROM cases c LEFT JOIN case_facts f ON f.case_id = c.id "
        "WHERE c.reported_at >= %s AND c.reported_at < %s AND (f.case_id IS NULL OR f.version <> c.version)",
        (start, end)).fetchall()
    by_version: dict[int | None, list[tuple[Any, int]]] = defaultdict(list)
    for case_id, version, rules_version in stale:
        by_version[rules_version].append((case_id, version))
    written = 0
    for rules_version, cases in by_version.items():
        rules = book.rules(conn, rules_version)
        for i in range(0, len(cases), CHUNK):
            part = cases[i:i + CHUNK]
            events = conn.execute("SELECT payload FROM case_events WHERE case_id = ANY(%s)",
                                  ([r[0] for r in part],)).fetchall()
            facts = {f.case_id: f for f in case_facts((e[0] for e in events), rules.limits, rules.calendar,
                                                       catalogue=rules.catalogue)}
            rows = [maintained.row(facts[str(case_id)], version, rules_version) for case_id, version in part
                    if str(case_id) in facts]
            with conn.transaction():
                maintained.write(conn, rows)
            written += len(rows)
    return written
