"""Patrol SQL shared by the loader, the stream consumer and the API: road segments, plans, the
network the rules run on, per-device state, and one batch's writes in one transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
import psycopg
import shapely

from civicgrid.domain.patrol import PatrolNetwork, PatrolPlan, Projection, RoadSegment, SegmentIndex
from civicgrid.domain.patrol.tracker import BatchResult, DeviceState
from civicgrid.store.grid_cells import load_grid_index

SEED_PLAN_FROM = "2000-01-01"  # the seeds' standing rule, valid for any simulated or replayed day


def upsert_segments(conn: psycopg.Connection, segments: Sequence[RoadSegment],
                    grid_of: dict[str, str | None]) -> int:
    """Insert or update segments; a street's pieces that a new split no longer has are removed."""
    rows = [(s.id, s.street_id, s.name, s.road_class, orjson.dumps(s.geojson()).decode(), s.length_m,
             grid_of.get(s.id), s.street_seq) for s in segments]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO road_segments (id, street_id, name, road_class, geometry, length_m, responsibility_grid_id, "
            "street_seq) VALUES (%s, %s, %s, %s, %s, %s, (SELECT id FROM responsibility_grids WHERE id = %s), %s) "
            "ON CONFLICT (id) DO UPDATE SET street_id = excluded.street_id, name = excluded.name, "
            "road_class = excluded.road_class, geometry = excluded.geometry, length_m = excluded.length_m, "
            "responsibility_grid_id = excluded.responsibility_grid_id, street_seq = excluded.street_seq, "
            "updated_at = now()", rows)
    streets = sorted({s.street_id for s in segments})
    conn.execute("DELETE FROM road_segments WHERE street_id = ANY(%s) AND NOT id = ANY(%s)",
                 (streets, [s.id for s in segments]))
    return len(rows)


def seed_plans(conn: psycopg.Connection, inspectors: Iterable[tuple[str, str | None]]) -> int:
    """A standing plan (07:30–18:30, main 5, secondary 4: the table's defaults) per inspector with a grid.

    Idempotent: a re-load moves the seeded plan to the inspector's current grid and leaves the window
    and pass counts as an operator may have changed them.
    """
    n = 0
    for username, grid in inspectors:
        if not grid:
            continue
        cur = conn.execute(
            "INSERT INTO patrol_plans (inspector_user_id, responsibility_grid_id, valid_from) "
            "SELECT id, %s, %s FROM users WHERE username = %s ON CONFLICT (inspector_user_id, valid_from) "
            "DO UPDATE SET responsibility_grid_id = excluded.responsibility_grid_id", (grid, SEED_PLAN_FROM, username))
        n += cur.rowcount
    return n


def network_signature(conn: psycopg.Connection) -> tuple[Any, ...]:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM road_segments), (SELECT max(updated_at)::text FROM road_segments), "
        "(SELECT count(*) FROM grid_cells), (SELECT max(created_at)::text FROM grid_cells), "
        "(SELECT count(*) FROM grid_cells WHERE responsibility_grid_id IS NOT NULL)").fetchone()
    assert row is not None, "a SELECT without FROM returns one row"
    return row


def load_plans(conn: psycopg.Connection) -> dict[int, PatrolPlan]:
    """The plan in force today per inspector (latest valid_from)."""
    rows = conn.execute(
        "SELECT DISTINCT ON (inspector_user_id) inspector_user_id, responsibility_grid_id, window_start, window_end, "
        "main_road_passes, secondary_road_passes FROM patrol_plans WHERE valid_from <= current_date "
        "AND (valid_to IS NULL OR valid_to >= current_date) ORDER BY inspector_user_id, valid_from DESC").fetchall()
    return {r[0]: PatrolPlan(*r) for r in rows}


def load_network(conn: psycopg.Connection, *, utc_offset_s: int = 8 * 3600) -> PatrolNetwork:
    segs = conn.execute("SELECT id, road_class, geometry, responsibility_grid_id FROM road_segments "
                        "ORDER BY id").fetchall()
    cell_grids: dict[str, str | None] = dict(
        conn.execute("SELECT code, responsibility_grid_id FROM grid_cells").fetchall())
    # One broken cell must not stop patrol coverage for the city: it is left out and just matches nothing.
    grid = load_grid_index(conn)
    lon0 = (segs[0][2]["coordinates"][0][0] if segs
            else float(shapely.get_coordinates(grid.geometries[0])[0, 0]) if grid is not None else 117.0)
    projection = Projection(lon0)
    index = SegmentIndex.from_segments([s[0] for s in segs], [s[2]["coordinates"] for s in segs], projection)
    return PatrolNetwork(projection, index, {s[0]: s[1] for s in segs}, {s[0]: s[3] for s in segs}, grid,
                         cell_grids, load_plans(conn), utc_offset_s)


def load_states(conn: psycopg.Connection, device_ids: Sequence[str]) -> dict[str, DeviceState]:
    rows = conn.execute("SELECT device_id, state FROM patrol_device_state WHERE device_id = ANY(%s)",
                        (list(device_ids),)).fetchall()
    return {d: DeviceState.from_json(d, s) for d, s in rows}


def _copy_insert(conn: psycopg.Connection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> int:
    if not rows:
        return 0
    cols = ", ".join(columns)
    tmp = f"_patrol_{table}"
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {tmp} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
    with conn.cursor() as cur, cur.copy(f"COPY {tmp} ({cols}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    return conn.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {tmp} ON CONFLICT DO NOTHING").rowcount


TRACK_COLUMNS = ("time", "device_id", "seq", "lon", "lat", "speed_mps", "heading_deg", "hdop", "grid_cell_code",
                 "segment_id")
REJECT_COLUMNS = ("time", "device_id", "seq", "reason", "lon", "lat", "hdop")


def coverage_rows(res: BatchResult, now: datetime) -> list[tuple[Any, ...]]:
    out = []
    for row in res.coverage.values():
        t, s = row.tally, row.summary
        detail = {"passes": t.passes, "cells": sorted(t.cells), "points": t.points}
        out.append((row.day, row.inspector_user_id, s.segments_required, s.segments_met, len(t.cells),
                    s.plan_met_pct, round(t.inside_s, 1), round(t.outside_s, 1), round(t.distance_m, 1),
                    orjson.dumps(detail).decode(), now, row.responsibility_grid_id, row.device_id,
                    orjson.dumps(s.by_class).decode()))
    return out


def state_rows(res: BatchResult, states: dict[str, DeviceState]) -> list[tuple[str, str]]:
    """The touched devices' state as it stands now (taken before the next batch changes it)."""
    return [(d, orjson.dumps(states[d].to_json()).decode()) for d in sorted(res.dirty) if d in states]


def write_batch(conn: psycopg.Connection, res: BatchResult, dirty: list[tuple[str, str]], *, consumer: str,
                offsets: dict[tuple[str, int], int], now: datetime) -> int:
    """Everything one batch produced (`dirty`: `state_rows`), and where the consumer stopped, in one transaction."""
    with conn.transaction():
        written = _copy_insert(conn, "track_points", TRACK_COLUMNS, res.clean)
        _copy_insert(conn, "track_rejects", REJECT_COLUMNS, res.rejects)
        with conn.cursor() as cur:
            if res.visits:
                conn.execute("CREATE TEMP TABLE IF NOT EXISTS _patrol_visits (LIKE patrol_cell_visits) "
                             "ON COMMIT DELETE ROWS")
                with cur.copy("COPY _patrol_visits (day, grid_cell_code, device_id, inspector_user_id, visits) "
                              "FROM STDIN") as copy:
                    for k, v in res.visits.items():
                        copy.write_row((*k, v))
                conn.execute("INSERT INTO patrol_cell_visits (day, grid_cell_code, device_id, inspector_user_id, "
                             "visits) SELECT day, grid_cell_code, device_id, inspector_user_id, visits "
                             "FROM _patrol_visits ON CONFLICT (day, grid_cell_code, device_id) DO UPDATE SET "
                             "visits = patrol_cell_visits.visits + excluded.visits")
            if res.coverage:
                cur.executemany(
                    "INSERT INTO patrol_coverage (day, inspector_user_id, segments_required, segments_met, "
                    "cells_visited, plan_met_pct, inside_grid_s, outside_grid_s, distance_m, detail, updated_at, "
                    "responsibility_grid_id, device_id, by_class) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                    "%s, %s, %s, %s) ON CONFLICT (day, inspector_user_id) DO UPDATE SET "
                    "segments_required = excluded.segments_required, segments_met = excluded.segments_met, "
                    "cells_visited = excluded.cells_visited, plan_met_pct = excluded.plan_met_pct, "
                    "inside_grid_s = excluded.inside_grid_s, outside_grid_s = excluded.outside_grid_s, "
                    "distance_m = excluded.distance_m, detail = excluded.detail, updated_at = excluded.updated_at, "
                    "responsibility_grid_id = excluded.responsibility_grid_id, device_id = excluded.device_id, "
                    "by_class = excluded.by_class", coverage_rows(res, now))
            if dirty:  # COPY + one upsert, not a statement per device: a batch touches most devices
                conn.execute("CREATE TEMP TABLE IF NOT EXISTS _patrol_state (device_id text, state jsonb) "
                             "ON COMMIT DELETE ROWS")
                with cur.copy("COPY _patrol_state (device_id, state) FROM STDIN") as copy:
                    for row in dirty:
                        copy.write_row(row)
                conn.execute("INSERT INTO patrol_device_state (device_id, state) SELECT device_id, state "
                             "FROM _patrol_state ON CONFLICT (device_id) DO UPDATE SET state = excluded.state, "
                             "updated_at = now()")
            if offsets:
                cur.executemany("INSERT INTO kafka_positions (consumer, topic, partition, next_offset) VALUES "
                                "(%s, %s, %s, %s) ON CONFLICT (consumer, topic, partition) DO UPDATE SET "
                                "next_offset = excluded.next_offset",
                                [(consumer, t, p, o) for (t, p), o in offsets.items()])
    return written


def positions(conn: psycopg.Connection, consumer: str, topic: str) -> dict[int, int]:
    return dict(conn.execute("SELECT partition, next_offset FROM kafka_positions WHERE consumer = %s AND topic = %s",
                             (consumer, topic)).fetchall())

