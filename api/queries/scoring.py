"""CJ/T 292 evaluation over a period: per-case facts cached in ``case_facts_cache``, formulas from the domain.

`civicgrid.domain.case_facts` replays each case's event records — correct, but too slow to
redo for tens of thousands of cases per request. The facts of a case are therefore
stored with the case version they were computed at and recomputed only for cases that
changed since (any writer: API or streams). A table then costs one indexed read of the
period's facts plus the domain's counting, grouped so each subject sees only its cases.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from api.deps import ApiContext
from civicgrid.domain import scoring
from civicgrid.domain.case_facts import CaseFacts, case_facts

CHUNK = 2000
REGION_DIGITS = {"county": 6, "street": 9, "community": 12}


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


def refresh_facts(ctx: ApiContext, conn: psycopg.Connection, start: datetime, end: datetime) -> int:
    """Recompute the facts of the period's cases that changed since they were cached; return how many."""
    stale = conn.execute(
        "SELECT c.id, c.version, c.reported_at FROM cases c LEFT JOIN case_facts_cache f ON f.case_id = c.id "
        "WHERE c.reported_at >= %s AND c.reported_at < %s AND (f.case_id IS NULL OR f.version <> c.version)",
        (start, end)).fetchall()
    for i in range(0, len(stale), CHUNK):
        part = stale[i:i + CHUNK]
        events = conn.execute("SELECT payload FROM case_events WHERE case_id = ANY(%s)",
                              ([r[0] for r in part],)).fetchall()
        facts = {f.case_id: f for f in case_facts((e[0] for e in events), ctx.limits, ctx.calendar,
                                                   catalogue=ctx.catalogue)}
        rows = [(str(case_id), version, reported_at, Jsonb(_to_json(facts[str(case_id)])))
                for case_id, version, reported_at in part if str(case_id) in facts]
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany("INSERT INTO case_facts_cache (case_id, version, reported_at, facts) "
                            "VALUES (%s, %s, %s, %s) ON CONFLICT (case_id) DO UPDATE SET version = EXCLUDED.version, "
                            "facts = EXCLUDED.facts", rows)
    return len(stale)


def load_facts(conn: psycopg.Connection, start: datetime, end: datetime) -> list[CaseFacts]:
    rows = conn.execute("SELECT facts FROM case_facts_cache WHERE reported_at >= %s AND reported_at < %s",
                        (start, end)).fetchall()
    return [_from_json(r[0]) for r in rows]


def _group(facts: Iterable[CaseFacts], key) -> dict[str, list[CaseFacts]]:
    out: dict[str, list[CaseFacts]] = defaultdict(list)
    for f in facts:
        k = key(f)
        if k:
            out[k].append(f)
    return out


def department_table(facts: list[CaseFacts], departments: list[str]) -> list[scoring.Evaluation]:
    groups = _group((f for f in facts if f.dispatched), lambda f: f.department)
    return [scoring.evaluate_department(groups.get(d, []), d) for d in sorted(set(departments) | set(groups))]


def region_table(facts: list[CaseFacts], level: str, grids: dict[str, set[str]]) -> list[scoring.Evaluation]:
    if level == "grid":
        by_grid = {cell: grid for grid, cells in grids.items() for cell in cells}
        groups = _group(facts, lambda f: by_grid.get(f.cell or ""))
        return [scoring.evaluate_region(groups.get(g, []), g, cells=grids[g]) for g in sorted(grids)]
    digits = REGION_DIGITS[level]
    groups = _group(facts, lambda f: f.cell[:digits] if f.cell and len(f.cell) >= digits else None)
    return [scoring.evaluate_region(groups[p], p) for p in sorted(groups)]


def post_table(facts: list[CaseFacts], role: str, actors: list[str],
               grids_of: dict[str, set[str]]) -> list[scoring.Evaluation]:
    return [scoring.evaluate_post(facts, role, a, peers=actors, cells=grids_of.get(a, set())) for a in sorted(actors)]


def grids(conn: psycopg.Connection) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for grid, cell in conn.execute("SELECT responsibility_grid_id, code FROM grid_cells "
                                   "WHERE responsibility_grid_id IS NOT NULL").fetchall():
        out[grid].add(cell)
    return dict(out)
