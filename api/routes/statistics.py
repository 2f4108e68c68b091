"""/statistics: cases by category, area, source and period, with hot spots and trends, and the publications
(daily statistics, 旬 analysis, monthly publication, yearly assessment) as Excel and PDF (docs/statistics.md).

A period is the day, 旬, month or year holding `day` (the city's zone), or `date_from`–`date_to`;
a case counts in the period its report fell in. Filters narrow every part of the answer alike.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from api.auth import require
from api.deps import Ctx, Db
from api.errors import ApiError
from api.schemas.statistics import PeriodOut, PublicationOut, PublishIn, StatisticsOut
from api.users import User
from civicgrid.domain.case_state import Role, Source
from civicgrid.domain.working_calendar import CHINA_TZ
from civicgrid.statistics.compute import collect
from civicgrid.statistics.periods import BadPeriod, Period, PeriodKind, date_range, period_of
from civicgrid.statistics.publications import MEDIA_TYPES, PublicationKind, content_disposition, make, publish
from civicgrid.statistics.shaping import Bucket
from civicgrid.store.statistics import (
    CaseFilter,
    Dimension,
    PublicationRow,
    list_publications,
    publication_document,
)

router = APIRouter(prefix="/statistics", tags=["statistics"])
# Who reads the centre's statistics: the same people who read the evaluation tables (api/routes/scoring.py).
Readers = Annotated[User, Depends(require(Role.LEADER, Role.SHIFT_LEADER, Role.DISPATCHER, Role.OPERATOR))]
AREA = r"^[0-9]{6,15}$"
CATEGORY = r"^[CE]([0-9]{2}){0,2}$"


def resolve_period(period: PeriodKind, day: date | None, date_from: date | None, date_to: date | None,
                   today: date) -> Period:
    """The period a request names; 422 with the reason when it names none."""
    try:
        if period is PeriodKind.RANGE:
            if date_from is None or date_to is None:
                raise BadPeriod("period=range needs date_from and date_to")
            return date_range(date_from, date_to)
        if date_from is not None or date_to is not None:
            raise BadPeriod("date_from and date_to go with period=range; other periods take `day`")
        return period_of(period, day or today)
    except BadPeriod as exc:
        raise ApiError(422, "bad-period", str(exc)) from None


@router.get("", summary="Cases by category, area, source and period, with hot spots and the trend",
            response_model=StatisticsOut, responses={422: {"description": "a period or filter that names nothing"}})
def statistics(
    ctx: Ctx, db: Db, user: Readers,
    period: PeriodKind = PeriodKind.MONTH,
    day: Annotated[date | None, Query(description="any day in the period (default: today, platform clock)")] = None,
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
    the_period = resolve_period(period, day, date_from, date_to, ctx.clock.now().astimezone(CHINA_TZ).date())
    where = CaseFilter(area=area, grid=grid, category=category, source=source.value if source else None)
    stats = collect(db, the_period, where, area_level=Dimension(area_level), top=top, bucket=bucket)
    filters = {k: v for k, v in (("area", area), ("grid", grid), ("category", category),
                                 ("source", where.source)) if v is not None}
    return StatisticsOut.of(stats, filters)


# ---------------------------------------------------------------- publications (documents)

Publishers = Annotated[User, Depends(require(Role.LEADER, Role.SHIFT_LEADER))]
DOCUMENT_RESPONSES = {200: {"content": {MEDIA_TYPES["xlsx"]: {}, MEDIA_TYPES["pdf"]: {}},
                            "description": "the document, as an attachment with a Chinese file name (RFC 5987)"}}


def _today(ctx: Ctx) -> date:
    return ctx.clock.now().astimezone(CHINA_TZ).date()


def _period(kind: PublicationKind, day: date) -> Period:
    try:
        return period_of(kind.period_kind, day)
    except BadPeriod as exc:
        raise ApiError(422, "bad-period", str(exc)) from None


def _document(kind: PublicationKind, period: Period, fmt: str, content: bytes) -> Response:
    return Response(content, media_type=MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": content_disposition(kind, period, fmt)})


def _out(row: PublicationRow) -> PublicationOut:
    period = period_of(PublicationKind(row.kind).period_kind, row.period_first)
    return PublicationOut(id=row.id, kind=row.kind, title=row.title, period=PeriodOut.of(period),
                          generated_at=row.generated_at, trigger=row.trigger, cases=row.cases,
                          xlsx_bytes=row.xlsx_bytes, pdf_bytes=row.pdf_bytes)


@router.get("/documents/{kind}", summary="A publication made now, as Excel or PDF (not recorded)",
            response_class=Response, responses=DOCUMENT_RESPONSES)
def document(ctx: Ctx, db: Db, user: Readers, kind: PublicationKind, format: Literal["xlsx", "pdf"] = "pdf",
             day: Annotated[date | None, Query(description="any day in the period (default: today)")] = None,
             ) -> Response:
    period = _period(kind, day or _today(ctx))
    docs = make(db, kind, period, ctx.clock.now(), ctx.settings.statistics.cjk_font)
    return _document(kind, period, format, docs.xlsx if format == "xlsx" else docs.pdf)


@router.get("/publications", summary="Recorded publications (schedule, CLI, API), the newest period first",
            response_model=list[PublicationOut])
def publications(db: Db, user: Readers, kind: PublicationKind | None = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[PublicationOut]:
    return [_out(r) for r in list_publications(db, kind.value if kind else None, limit)]


@router.post("/publications", summary="Make and record a publication now (replaces one of the same period)",
             response_model=PublicationOut, status_code=201)
def publish_now(ctx: Ctx, db: Db, user: Publishers, body: PublishIn) -> PublicationOut:
    period = _period(body.kind, body.day or _today(ctx))
    row, _ = publish(db, body.kind, period, ctx.clock.now(), "api", ctx.settings.statistics.cjk_font)
    return _out(row)


@router.get("/publications/{publication_id}/document", summary="A recorded publication's Excel or PDF",
            response_class=Response, responses={**DOCUMENT_RESPONSES, 404: {"description": "no such publication"}})
def publication_file(db: Db, user: Readers, publication_id: Annotated[int, Path(ge=1, le=2**62)],
                     format: Literal["xlsx", "pdf"] = "pdf") -> Response:
    found = publication_document(db, publication_id, format)
    if found is None:
        raise ApiError(404, "not-found", f"no publication {publication_id}")
    row, content = found
    kind = PublicationKind(row.kind)
    return _document(kind, period_of(kind.period_kind, row.period_first), format, content)
