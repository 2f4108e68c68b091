"""The rule pack's responsibility table and patrol plans applied to the database when their version is stored.

Dispatch (civicgrid/store/responsibility.py) and the patrol worker (civicgrid/store/patrol.py) read the tables
`responsibility_rules` and `patrol_plans`; a version whose pack holds `responsibility` or `patrol_plans`
(civicgrid/cases/pack_duties.py) replaces that table whole, in the transaction that stores the version
(civicgrid/store/rule_packs.py), so the next dispatch suggests by it and the patrol worker reads the plans at its
next refresh. Every name is checked first — a department, a cell prefix no grid cell has, an inspector, a
responsibility grid — and a pack naming one that does not exist is refused with each such row, as any other error
of the pack, and nothing is stored. A pack without the table leaves it as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

from civicgrid.cases.pack_check import PackError
from civicgrid.cases.pack_duties import SEED_PLAN_FROM, plan_row, rule_row


def _missing(conn: psycopg.Connection, sql: str, names: set[str]) -> set[str]:
    """The names among `names` that `sql` (given the list as %s, answering the ones found) does not find."""
    found = {r[0] for r in conn.execute(sql, (sorted(names),)).fetchall()}
    return names - found


def reference_errors(conn: psycopg.Connection, content: Mapping[str, Any]) -> list[PackError]:
    """Every row of the pack's responsibility table and patrol plans that names something the database lacks."""
    errors: list[PackError] = []
    rules = (content.get("responsibility") or {}).get("rules") or []
    if rules:
        file, data = "responsibility.yaml", content["responsibility"]
        departments = _missing(conn, "SELECT id FROM departments WHERE id = ANY(%s)",
                               {str(r["department_id"]) for r in rules})
        prefixes = {str(r.get("grid_prefix") or "") for r in rules} - {""}
        no_cells = _missing(conn, "SELECT p FROM unnest(%s::text[]) AS p WHERE EXISTS "
                                  "(SELECT 1 FROM grid_cells WHERE code LIKE p || '%%')", prefixes)
        for i, r in enumerate(rules):
            if str(r["department_id"]) in departments:
                errors.append(PackError(file, rule_row(i, data), "department_id",
                                        f"no department {r['department_id']!r}"))
            if str(r.get("grid_prefix") or "") in no_cells:
                errors.append(PackError(file, rule_row(i, data), "grid_prefix",
                                        f"no grid cell's code starts with {r['grid_prefix']!r}"))
    plans = (content.get("patrol_plans") or {}).get("plans") or []
    if plans:
        file, data = "patrol_plans.yaml", content["patrol_plans"]
        inspectors = _missing(conn, "SELECT username FROM users WHERE username = ANY(%s) AND role = 'inspector'",
                              {str(p["inspector"]) for p in plans})
        grids = _missing(conn, "SELECT id FROM responsibility_grids WHERE id = ANY(%s)",
                         {str(p["grid"]) for p in plans})
        for i, p in enumerate(plans):
            if str(p["inspector"]) in inspectors:
                errors.append(PackError(file, plan_row(i, data), "inspector", f"no inspector {p['inspector']!r}"))
            if str(p["grid"]) in grids:
                errors.append(PackError(file, plan_row(i, data), "grid", f"no responsibility grid {p['grid']!r}"))
    return errors


def apply(conn: psycopg.Connection, content: Mapping[str, Any]) -> None:
    """Replace the tables the pack holds (call inside the transaction that stores its version, after
    `reference_errors` found none)."""
    if "responsibility" in content:
        conn.execute("DELETE FROM responsibility_rules")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO responsibility_rules (category_code, grid_prefix, department_id, note) "
                            "VALUES (%s, %s, %s, %s)",
                            [(r["category_code"], r.get("grid_prefix") or "", r["department_id"], r.get("note"))
                             for r in content["responsibility"]["rules"]])
    if "patrol_plans" in content:
        conn.execute("DELETE FROM patrol_plans")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO patrol_plans (inspector_user_id, responsibility_grid_id, window_start, window_end, "
                "main_road_passes, secondary_road_passes, valid_from, valid_to) SELECT id, %s, %s, %s, %s, %s, %s, %s "
                "FROM users WHERE username = %s",
                [(p["grid"], *str(p.get("window") or "07:30-18:30").split("-"), p.get("main_road_passes", 5),
                  p.get("secondary_road_passes", 4), p.get("valid_from") or SEED_PLAN_FROM, p.get("valid_to"),
                  p["inspector"]) for p in content["patrol_plans"]["plans"]])


def held_tables(conn: psycopg.Connection) -> set[str]:
    """Which of the two tables the current rule pack version holds: `civicgrid city load` leaves those to it."""
    row = conn.execute("SELECT content ? 'responsibility', content ? 'patrol_plans' FROM rule_packs "
                       "ORDER BY version DESC LIMIT 1").fetchone()
    if row is None:
        return set()
    return {name for name, held in zip(("responsibility", "patrol_plans"), row, strict=True) if held}
