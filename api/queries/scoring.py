"""CJ/T 292 evaluation tables over a period's per-case facts, formulas from the domain, weights from the pack.

The facts come from their cache (api/case_facts_cache.py, which also keeps it up to date: this
module only reads). A table then costs one indexed read of the period's facts plus the
domain's counting, grouped so each subject sees only its cases.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

import psycopg

from civicgrid.domain import scoring
from civicgrid.domain.case_facts import CaseFacts

REGION_DIGITS = {"county": 6, "street": 9, "community": 12}


def _group(facts: Iterable[CaseFacts], key) -> dict[str, list[CaseFacts]]:
    out: dict[str, list[CaseFacts]] = defaultdict(list)
    for f in facts:
        k = key(f)
        if k:
            out[k].append(f)
    return out


def department_table(facts: list[CaseFacts], departments: list[str],
                     weights: scoring.Scoring | None = None) -> list[scoring.Evaluation]:
    groups = _group((f for f in facts if f.dispatched), lambda f: f.department)
    return [scoring.evaluate_department(groups.get(d, []), d, weights)
            for d in sorted(set(departments) | set(groups))]


def region_table(facts: list[CaseFacts], level: str, grids: dict[str, set[str]],
                 weights: scoring.Scoring | None = None) -> list[scoring.Evaluation]:
    if level == "grid":
        by_grid = {cell: grid for grid, cells in grids.items() for cell in cells}
        groups = _group(facts, lambda f: by_grid.get(f.cell or ""))
        return [scoring.evaluate_region(groups.get(g, []), g, cells=grids[g], scoring=weights) for g in sorted(grids)]
    digits = REGION_DIGITS[level]
    groups = _group(facts, lambda f: f.cell[:digits] if f.cell and len(f.cell) >= digits else None)
    return [scoring.evaluate_region(groups[p], p, scoring=weights) for p in sorted(groups)]


def post_table(facts: list[CaseFacts], role: str, actors: list[str], grids_of: dict[str, set[str]],
               weights: scoring.Scoring | None = None) -> list[scoring.Evaluation]:
    return [scoring.evaluate_post(facts, role, a, peers=actors, cells=grids_of.get(a, set()), scoring=weights)
            for a in sorted(actors)]


def case_rules_versions(conn: psycopg.Connection, start: datetime, end: datetime) -> list[int]:
    """The rule-pack versions the period's cases were filed under (docs/rules.md; NULL: before versions, 1)."""
    rows = conn.execute("SELECT DISTINCT COALESCE(rules_version, 1) FROM cases "
                        "WHERE reported_at >= %s AND reported_at < %s ORDER BY 1", (start, end)).fetchall()
    return [int(r[0]) for r in rows]


def grids(conn: psycopg.Connection) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for grid, cell in conn.execute("SELECT responsibility_grid_id, code FROM grid_cells "
                                   "WHERE responsibility_grid_id IS NOT NULL").fetchall():
        out[grid].add(cell)
    return dict(out)
