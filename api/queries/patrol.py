"""SQL only the patrol routes need (the writes are civicgrid/store/patrol.py's)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

PLANS_ON = ("SELECT DISTINCT ON (inspector_user_id) * FROM patrol_plans WHERE valid_from <= %(day)s "
            "AND (valid_to IS NULL OR valid_to >= %(day)s) ORDER BY inspector_user_id, valid_from DESC")


def inspector_rows(db: psycopg.Connection, day: date, inspector: int | None, grid: str | None) -> list[dict[str, Any]]:
    """Inspectors with a plan in force on `day` or a coverage row for it, with that row if any."""
    with db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"WITH plans AS ({PLANS_ON}), people AS (SELECT inspector_user_id FROM plans UNION "
            "SELECT inspector_user_id FROM patrol_coverage WHERE day = %(day)s) "
            "SELECT u.id AS inspector_user_id, coalesce(u.display_name, u.username) AS inspector_name, "
            "coalesce(c.responsibility_grid_id, p.responsibility_grid_id) AS responsibility_grid_id, "
            "c.plan_met_pct, c.segments_required, c.segments_met, c.by_class, c.cells_visited, c.inside_grid_s, "
            "c.outside_grid_s, c.distance_m, c.updated_at, c.device_id, c.detail, "
            "p.main_road_passes, p.secondary_road_passes "
            "FROM people JOIN users u ON u.id = people.inspector_user_id "
            "LEFT JOIN patrol_coverage c ON c.day = %(day)s AND c.inspector_user_id = u.id "
            "LEFT JOIN plans p ON p.inspector_user_id = u.id "
            "WHERE (%(inspector)s::bigint IS NULL OR u.id = %(inspector)s) "
            "AND (%(grid)s::text IS NULL OR coalesce(c.responsibility_grid_id, p.responsibility_grid_id) = %(grid)s) "
            "ORDER BY u.username", {"day": day, "inspector": inspector, "grid": grid}).fetchall()


def plan_on(db: psycopg.Connection, day: date, inspector: int) -> dict[str, Any] | None:
    """The inspector's plan in force on `day` (its grid, window and required passes), or None."""
    with db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT responsibility_grid_id, window_start, window_end, main_road_passes, secondary_road_passes "
            f"FROM ({PLANS_ON}) p WHERE inspector_user_id = %(inspector)s",
            {"day": day, "inspector": inspector}).fetchone()


def grid_segments(db: psycopg.Connection, grids: list[str]) -> dict[str, dict[str, str]]:
    """grid → {segment id: road class} of its main and secondary roads."""
    out: dict[str, dict[str, str]] = {g: {} for g in grids}
    for seg, grid, road_class in db.execute(
            "SELECT id, responsibility_grid_id, road_class FROM road_segments WHERE responsibility_grid_id = ANY(%s) "
            "AND road_class IN ('main', 'secondary')", (grids,)).fetchall():
        out[grid][seg] = road_class
    return out


def cells_in_grids(db: psycopg.Connection, grids: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {g: set() for g in grids}
    for code, grid in db.execute("SELECT code, responsibility_grid_id FROM grid_cells "
                                 "WHERE responsibility_grid_id = ANY(%s)", (grids,)).fetchall():
        out[grid].add(code)
    return out


def device_inspector(db: psycopg.Connection, device_id: str) -> tuple[bool, int | None]:
    row = db.execute("SELECT inspector_user_id FROM devices WHERE id = %s", (device_id,)).fetchone()
    return (row is not None, row[0] if row else None)


def track(db: psycopg.Connection, device_id: str, start: datetime, end: datetime) -> list[tuple]:
    return db.execute("SELECT time, lon, lat FROM track_points WHERE device_id = %s AND time >= %s AND time < %s "
                      "ORDER BY time", (device_id, start, end)).fetchall()


def heatmap(db: psycopg.Connection, day: date, prefix: str, inspector: int | None) -> list[tuple]:
    return db.execute(
        "SELECT grid_cell_code, sum(visits)::int, count(DISTINCT inspector_user_id)::int FROM patrol_cell_visits "
        "WHERE day = %s AND grid_cell_code LIKE %s AND (%s::bigint IS NULL OR inspector_user_id = %s) "
        "GROUP BY 1 ORDER BY 1", (day, prefix + "%", inspector, inspector)).fetchall()
