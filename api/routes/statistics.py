"""/statistics: cases by category, area, source and period, with hot spots and trends (docs/statistics.md).

A period is the day, 旬, month or year holding `day` (the city's zone), or `date_from`–`date_to`;
a case counts in the period its report fell in. Filters narrow every part of the answer alike.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from api.auth import require
from api.deps import Db
from api.errors import ApiError
from api.schemas.statistics import StatisticsOut
from api.users import User
from civicgrid.domain.case_state import Role, Source
from civicgrid.domain.working_calendar import CHINA_TZ
from civicgrid.statistics.compute import collect
from civicgrid.statistics.periods import BadPeriod, Period, PeriodKind, date_range, period_of
from civicgrid.statistics.shaping import Bucket
from civicgrid.store.statistics import CaseFilter, Dimension

router = APIRouter(prefix="/statistics", tags=["statistics"])
# Who reads the centre's statistics: the same people who read the evaluation tables (api/routes/scoring.py).
Readers = Annotated[User, Depends(require(Role.LEADER, Role.SHIFT_LEADER, Role.DISPATCHER, Role.OPERATOR))]
AREA = r"^[0-9]{6,15}$"
CATEGORY = r"^[CE]([0-9]{2}){0,2}$"


def resolve_period(period: PeriodKind, day: date | None, date_from: date | None, date_to: date | None) -> Period:
    """The period a request names; 422 with the reason when it names none."""
    try:
        if period is PeriodKind.RANGE:
            if date_from is None or date_to is None:
                raise BadPeriod("period=range needs date_from and date_to")
            return date_range(date_from, date_to)
        if date_from is not None or date_to is not None:
            raise BadPeriod("date_from and date_to go with period=range; other periods take `day`")
        return period_of(period, day or datetime.now(CHINA_TZ).date())
    except BadPeriod as exc:
        raise ApiError(422, "bad-period", str(exc)) from None


@router.get("", summary="Cases by category, area, source and period, with hot spots and the trend",
            response_model=StatisticsOut, responses={422: {"description": "a period or filter that names nothing"}})
def statistics(
    db: Db, user: Readers,
    period: PeriodKind = PeriodKind.MONTH,
    day: Annotated[date | None, Query(description="any day in the period (default: today)")] = None,
    date_from: Annotated[date | None, Query(description="period=range: first day")] = None,
    date_to: Annotated[date | None, Query(description="period=range: last day (at most 366 days)")] = None,
    area_level: Literal["street", "community", "cell", "grid"] = "street",
    area: Annotated[str | None, Query(pattern=AREA, description="cell-code prefix: county 6, street 9, "
                                                               "community 12, cell 14 digits")] = None,
    grid: Annotated[str | None, Query(max_length=100, description="a responsibility grid id")] = None,
    category: Annotated[str | None, Query(pattern=CATEGORY, description="category-code prefix: E, E01, "
                                                                       "E0102")] = None,
    source: Source | None = None,
    top: Annotated[int, Query(ge=1, le=100, description="hot cells and recurring problems listed")] = 10,
    bucket: Annotated[Bucket | None, Query(description="trend per day or week (default: day up to 62 days)")]
    = None,
) -> StatisticsOut:
    the_period = resolve_period(period, day, date_from, date_to)
    where = CaseFilter(area=area, grid=grid, category=category, source=source.value if source else None)
    stats = collect(db, the_period, where, area_level=Dimension(area_level), top=top, bucket=bucket)
    filters = {k: v for k, v in (("area", area), ("grid", grid), ("category", category),
                                 ("source", where.source)) if v is not None}
    return StatisticsOut.of(stats, filters)
