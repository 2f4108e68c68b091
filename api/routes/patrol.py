"""/patrol: coverage per inspector and per grid for a day, track playback, the cell visit heat map.

Coverage rows are kept current by the worker's patrol consumer (streams/patrol.py); an inspector with
a plan in force but no row yet (nothing walked) is listed at 0 %. The day is the city's (UTC+8).
Whoever may read /coverage may read these; an inspector reads their own only.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

import numpy as np
import psycopg
from fastapi import APIRouter, Depends, Path, Query

from api.auth import require
from api.deps import Db
from api.errors import ApiError
from api.queries import patrol as q
from api.schemas.patrol import ClassCoverage, GridCoverage, HeatCell, InspectorCoverage, TrackFeature, TrackProperties
from api.users import User
from civicgrid.domain.case_state import Role
from civicgrid.domain.patrol import PatrolPlan, Projection, summarise
from civicgrid.domain.patrol.playback import simplify_indices
from civicgrid.domain.working_calendar import CHINA_TZ

router = APIRouter(prefix="/patrol", tags=["patrol"])
CITY_TZ = CHINA_TZ
Readers = Annotated[User, Depends(require(Role.LEADER, Role.SHIFT_LEADER, Role.OPERATOR, Role.DISPATCHER,
                                          Role.INSPECTOR))]
Day = Annotated[date | None, Query(description="the city's day (default: today, UTC+8)")]
MAX_RANGE = timedelta(days=7)


def today() -> date:
    """The city's day now (UTC+8)."""
    return datetime.now(CITY_TZ).date()


def _day(day: date | None) -> date:
    the_day = day or today()
    if not date(2000, 1, 1) <= the_day <= date(2100, 12, 31):
        raise ApiError(422, "bad-day", "day must lie between 2000 and 2100")
    return the_day


def _plan_classes(row: dict[str, Any], segments: dict[str, str]) -> dict[str, tuple[str, int]]:
    plan = PatrolPlan(0, None, main_road_passes=row.get("main_road_passes") or 5,
                      secondary_road_passes=row.get("secondary_road_passes") or 4)
    return {s: (c, plan.required(c)) for s, c in segments.items()}


@router.get("/coverage", summary="Patrol coverage of each inspector on a day", response_model=list[InspectorCoverage])
def inspector_coverage(db: Db, user: Readers, day: Day = None,
                       inspector_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                       grid_id: Annotated[str | None, Query(max_length=100)] = None) -> list[InspectorCoverage]:
    the_day = _day(day)
    if user.role is Role.INSPECTOR:
        inspector_id = user.id
    return coverage_of(db, the_day, inspector_id, grid_id)


def coverage_of(db: psycopg.Connection, the_day: date, inspector_id: int | None,
                grid_id: str | None) -> list[InspectorCoverage]:
    """Each inspector's coverage on the day (the console's table and the handheld's card, routes/handheld.py)."""
    rows = q.inspector_rows(db, the_day, inspector_id, grid_id)
    missing = sorted({r["responsibility_grid_id"] for r in rows if r["updated_at"] is None
                      and r["responsibility_grid_id"]})
    segments = q.grid_segments(db, missing) if missing else {}
    out = []
    for r in rows:
        if r["updated_at"] is None:  # planned, nothing walked yet: 0 % of what the plan requires
            s = summarise({}, _plan_classes(r, segments.get(r["responsibility_grid_id"], {})))
            r.update(plan_met_pct=0.0, segments_required=s.segments_required, segments_met=0, by_class=s.by_class,
                     cells_visited=0, inside_grid_s=0.0, outside_grid_s=0.0, distance_m=0.0)
        fields = {k: v for k, v in r.items() if k in InspectorCoverage.model_fields and k != "day"}
        out.append(InspectorCoverage(day=the_day, **fields))
    return out


@router.get("/coverage/grids", summary="Patrol coverage of each responsibility grid on a day",
            response_model=list[GridCoverage])
def grid_coverage(db: Db, user: Readers, day: Day = None) -> list[GridCoverage]:
    the_day = _day(day)
    rows = [r for r in q.inspector_rows(db, the_day, None, None) if r["responsibility_grid_id"]]
    if user.role is Role.INSPECTOR:
        rows = [r for r in rows if r["responsibility_grid_id"] == user.responsibility_grid_id]
    grids = sorted({r["responsibility_grid_id"] for r in rows})
    segments = q.grid_segments(db, grids)
    cells = q.cells_in_grids(db, grids)
    out = []
    for g in grids:
        mine = [r for r in rows if r["responsibility_grid_id"] == g]
        passes: dict[str, int] = {}
        visited: set[str] = set()
        for r in mine:
            detail = r["detail"] or {}
            for seg, n in (detail.get("passes") or {}).items():
                passes[seg] = passes.get(seg, 0) + n
            visited.update(detail.get("cells") or ())
        s = summarise(passes, _plan_classes(mine[0], segments.get(g, {})))
        out.append(GridCoverage(
            day=the_day, responsibility_grid_id=g, inspectors=len(mine), plan_met_pct=s.plan_met_pct,
            mean_inspector_pct=round(sum(r["plan_met_pct"] or 0.0 for r in mine) / len(mine), 2),
            segments_required=s.segments_required, segments_met=s.segments_met,
            by_class={k: ClassCoverage(**v) for k, v in s.by_class.items()},
            cells_visited=len(visited & cells.get(g, set())), cells_in_grid=len(cells.get(g, ())),
            inside_grid_s=sum(r["inside_grid_s"] or 0.0 for r in mine),
            outside_grid_s=sum(r["outside_grid_s"] or 0.0 for r in mine),
            distance_m=round(sum(r["distance_m"] or 0.0 for r in mine), 1)))
    return out


@router.get("/tracks/{device_id}", summary="A device's track for a time range, as a GeoJSON LineString",
            response_model=TrackFeature, responses={404: {"description": "unknown device"}})
def track_playback(db: Db, user: Readers, device_id: Annotated[str, Path(max_length=64)],
                   start: datetime, end: datetime,
                   max_points: Annotated[int, Query(ge=2, le=100_000)] = 2000) -> TrackFeature:
    if start.tzinfo is None or end.tzinfo is None:
        raise ApiError(422, "bad-range", "start and end need a time zone (e.g. 2026-11-24T08:00:00+08:00)")
    if not start < end or end - start > MAX_RANGE:
        raise ApiError(422, "bad-range", f"start must be before end, at most {MAX_RANGE.days} days apart")
    known, inspector = q.device_inspector(db, device_id)
    if user.role is Role.INSPECTOR and inspector != user.id:
        raise ApiError(403, "forbidden", "an inspector may play back their own handheld's track only")
    rows = q.track(db, device_id, start, end)
    if not rows and not known:
        raise ApiError(404, "not-found", f"no device {device_id!r}")
    keep = np.arange(len(rows))
    if len(rows) > max_points:
        lon = np.fromiter((r[1] for r in rows), float, len(rows))
        lat = np.fromiter((r[2] for r in rows), float, len(rows))
        x, y = Projection(float(lon[0])).forward(lon, lat)
        keep = simplify_indices(x, y, max_points)
    coords = [[rows[i][1], rows[i][2]] for i in keep]
    if len(coords) == 1:
        coords.append(coords[0])
    geometry = {"type": "LineString", "coordinates": coords} if coords else None
    return TrackFeature(geometry=geometry, properties=TrackProperties(
        device_id=device_id, times=[rows[i][0] for i in keep], points_total=len(rows), points_returned=len(keep),
        simplified=len(keep) < len(rows)))


@router.get("/heatmap", summary="Track entries into each cell on a day", response_model=list[HeatCell])
def heatmap(db: Db, user: Readers, day: Day = None,
            grid_prefix: Annotated[str, Query(pattern="^[0-9]{0,15}$")] = "") -> list[HeatCell]:
    the_day = _day(day)
    inspector = user.id if user.role is Role.INSPECTOR else None
    return [HeatCell(grid_cell_code=c, visits=v, inspectors=n) for c, v, n in q.heatmap(db, the_day, grid_prefix,
                                                                                         inspector)]
