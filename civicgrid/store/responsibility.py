"""The responsibility table (责任分解表) and the department it suggests for a case.

Order of precedence: the owner (主管部门) of the registered component the case is about;
else the rule with the longest matching grid-cell prefix, an exact category before its
major (C0101 before C01). The dispatcher confirms or overrides the suggestion.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

RULE_COLUMNS = "id, category_code, grid_prefix, department_id, note, created_at"


def suggest_department(conn: psycopg.Connection, *, category_code: str | None, cell: str | None,
                       component_code: str | None) -> str | None:
    if component_code:
        row = conn.execute("SELECT department_id FROM components WHERE code = %s", (component_code,)).fetchone()
        if row is not None and row[0] is not None:
            return str(row[0])
    if not category_code:
        return None
    row = conn.execute(
        "SELECT department_id FROM responsibility_rules WHERE category_code IN (%s, left(%s, 3)) "
        "AND %s LIKE grid_prefix || '%%' ORDER BY length(grid_prefix) DESC, length(category_code) DESC LIMIT 1",
        (category_code, category_code, cell or ""),
    ).fetchone()
    return None if row is None else str(row[0])


def list_rules(conn: psycopg.Connection) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT {RULE_COLUMNS} FROM responsibility_rules "
                           "ORDER BY category_code, grid_prefix").fetchall()


def upsert_rule(conn: psycopg.Connection, category_code: str, grid_prefix: str, department_id: str,
                note: str | None) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "INSERT INTO responsibility_rules (category_code, grid_prefix, department_id, note) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (category_code, grid_prefix) DO UPDATE SET "
            f"department_id = EXCLUDED.department_id, note = EXCLUDED.note RETURNING {RULE_COLUMNS}",
            (category_code, grid_prefix, department_id, note),
        ).fetchone()
    assert row is not None
    return row


def delete_rule(conn: psycopg.Connection, rule_id: int) -> bool:
    return conn.execute("DELETE FROM responsibility_rules WHERE id = %s", (rule_id,)).rowcount == 1
