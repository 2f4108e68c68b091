"""/scoring (CJ/T 292 evaluation tables, ranked) and /coverage (patrol coverage), as JSON or CSV.

A period is the day, 旬 (1–10, 11–20, 21–end), month or year holding `day`, in the city's
time zone (UTC+8); a case belongs to the period it was reported in (civicgrid.domain.scoring).
A table is scored by the current rule pack's weights, bands and `empty_rate` and says so: which
version, which weights, and under which versions the period's cases were filed (docs/rules.md).
Every rate comes with its numerator and denominator; one with nothing due has no value (null).
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from psycopg.rows import dict_row

from api.auth import require
from api.deps import Ctx, Db
from api.errors import ApiError
from api.queries import scoring as q
from api.schemas.scoring import CoverageRow, RatioOut, ScoreRow, ScoreTable
from api.users import User
from civicgrid.domain.case_state import Role
from civicgrid.domain.scoring import rank, xun_bounds
from civicgrid.domain.working_calendar import CHINA_TZ

MAX_COVERAGE_DAYS = 366

router = APIRouter(tags=["evaluation"])
CITY_TZ = CHINA_TZ  # the periods are whole local days: the daily rollups answer them (api/queries/scoring.py)
Evaluators = Annotated[User, Depends(require(Role.LEADER, Role.SHIFT_LEADER, Role.DISPATCHER, Role.OPERATOR))]
CSV_RESPONSE = {200: {"content": {"text/csv": {"example": "rank,subject,score,grade\n1,sanitation,92.5,A\n"}}}}


def period_bounds(period: str, day: date) -> tuple[datetime, datetime]:
    if period == "day":
        first, last = day, day
    elif period == "xun":
        first, last = xun_bounds(day)
    elif period == "month":
        first = day.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    else:
        first, last = day.replace(month=1, day=1), day.replace(month=12, day=31)
    return (datetime.combine(first, time(), CITY_TZ), datetime.combine(last + timedelta(days=1), time(), CITY_TZ))


def _csv(header: list[str], rows: list[list[object]], filename: str) -> Response:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/scoring/{level}", summary="Ranked evaluation table (region, department or post)",
            response_model=ScoreTable, responses={**CSV_RESPONSE, 422: {"description": "bad level options"}})
def score_table(
    ctx: Ctx, db: Db, user: Evaluators, level: Literal["region", "department", "post"],
    period: Literal["day", "xun", "month", "year"] = "month",
    day: Annotated[date | None, Query(description="any day in the period (default: today)")] = None,
    region_level: Literal["county", "street", "community", "grid", "centre"] = "street",
    department_level: Annotated[Literal["department", "centre"], Query(
        description="centre: the department table rolled up by centre (each centre's bodies and those of the "
                    "centres under it; a body of no centre counts for the top)")] = "department",
    role: Literal["inspector", "operator", "shift_leader", "dispatcher"] = "inspector",
    format: Literal["json", "csv"] = "json",
) -> ScoreTable | Response:
    the_day = day or ctx.clock.now().astimezone(CITY_TZ).date()
    if not date(2000, 1, 1) <= the_day <= date(2100, 12, 31):
        raise ApiError(422, "bad-period", "day must lie between 2000 and 2100")
    start, end = period_bounds(period, the_day)
    version, rules = ctx.book.current(db)
    weights = rules.scoring
    # grouped reads of the facts kept with each case event (civicgrid/store/case_facts.py), no replay here
    if level == "department" and department_level == "centre":  # levels: each centre's bodies, rolled up
        centres = [r[0] for r in db.execute("SELECT id FROM centres").fetchall()]
        evaluations = q.department_table_sql(db, start, end, centres, weights, by_centre=True)
    elif level == "department":
        departments = [r[0] for r in db.execute("SELECT id FROM departments").fetchall()]
        evaluations = q.department_table_sql(db, start, end, departments, weights)
    elif level == "region":
        evaluations = q.region_table_sql(db, start, end, region_level, weights)
    else:
        users = db.execute("SELECT username, responsibility_grid_id FROM users WHERE role = %s AND enabled",
                           (role,)).fetchall()
        evaluations = q.post_table_sql(db, start, end, role, [u for u, _ in users],
                                       {u: g for u, g in users if g}, weights)
    rows = [ScoreRow(rank=r, subject=e.subject, score=e.score, grade=e.grade, indicators=dict(e.indicators),
                     ratios={k: RatioOut(numerator=v.numerator, denominator=v.denominator)
                             for k, v in e.ratios.items()},
                     counted=dict(e.counted), weights=dict(e.weights))
            for r, e in rank(evaluations)]
    if format == "csv":
        return _score_csv(rows, f"scoring-{level}-{period}-{the_day}.csv")
    composite = level if level != "post" else role
    shown = {"region": f"region:{region_level}", "department": f"department:{department_level}"
             if department_level == "centre" else "department"}.get(level, level)
    cases, case_versions = q.period_summary(db, start, end)
    return ScoreTable(level=shown, period=period, start=start, end=end, cases=cases, composite=composite,
                      weights=dict(weights.composites[composite]), empty_rate=weights.empty_rate,
                      rules_version=version, case_rules_versions=case_versions, rows=rows)


def _score_csv(rows: list[ScoreRow], filename: str) -> Response:
    """One line per subject: score, grade, each indicator (empty: nothing due), each rate's numerator and
    denominator."""
    names = sorted({k for row in rows for k in row.indicators})
    rates = sorted({k for row in rows for k in row.ratios})
    blank = RatioOut(numerator=0, denominator=0)
    return _csv(["rank", "subject", "score", "grade", *names,
                 *(f"{k}_{part}" for k in rates for part in ("numerator", "denominator"))],
                [[r.rank, r.subject, "" if r.score is None else r.score, r.grade or "",
                  *("" if r.indicators.get(n) is None else r.indicators[n] for n in names),
                  *(x for k in rates for x in (r.ratios.get(k, blank).numerator, r.ratios.get(k, blank).denominator))]
                 for r in rows], filename)


@router.get("/coverage", summary="Patrol coverage per inspector and day (cells in `detail`)",
            response_model=list[CoverageRow], responses=CSV_RESPONSE)
def coverage(
    ctx: Ctx, db: Db,
    user: Annotated[User, Depends(require(Role.LEADER, Role.SHIFT_LEADER, Role.OPERATOR, Role.DISPATCHER,
                                          Role.INSPECTOR))],
    day_from: date | None = None, day_to: date | None = None,
    inspector_user_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    responsibility_grid_id: Annotated[str | None, Query(max_length=100)] = None,
    format: Literal["json", "csv"] = "json",
) -> list[CoverageRow] | Response:
    today = ctx.clock.now().astimezone(CITY_TZ).date()
    first, last = day_from or today - timedelta(days=6), day_to or today
    if not first <= last or (last - first).days >= MAX_COVERAGE_DAYS:
        raise ApiError(422, "bad-range", f"day_from must not be after day_to, at most {MAX_COVERAGE_DAYS} days apart "
                                         "(a year of every inspector's days is the most one answer carries)")
    if user.role is Role.INSPECTOR:  # an inspector sees their own patrols only
        inspector_user_id = user.id
    with db.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT p.day, p.inspector_user_id, u.username, u.responsibility_grid_id, p.segments_required, "
            "p.segments_met, p.cells_visited, p.plan_met_pct, p.inside_grid_s, p.outside_grid_s, p.distance_m, "
            "p.detail FROM patrol_coverage p JOIN users u ON u.id = p.inspector_user_id "
            "WHERE p.day BETWEEN %(first)s AND %(last)s "
            "AND (%(inspector)s::bigint IS NULL OR p.inspector_user_id = %(inspector)s) "
            "AND (%(grid)s::text IS NULL OR u.responsibility_grid_id = %(grid)s) ORDER BY p.day, u.username",
            {"first": first, "last": last, "inspector": inspector_user_id, "grid": responsibility_grid_id},
        ).fetchall()
    out = [CoverageRow(**r) for r in rows]
    if format == "csv":
        cols = [c for c in CoverageRow.model_fields if c != "detail"]
        return _csv(cols, [[getattr(r, c) for c in cols] for r in out], f"coverage-{first}-{last}.csv")
    return out
