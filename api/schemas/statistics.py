"""Statistics (counts by category, area, source and period, hot spots, trends) and publications."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from civicgrid.statistics import shaping
from civicgrid.statistics.periods import Period
from civicgrid.statistics.publications import PublicationKind


class PeriodOut(BaseModel):
    kind: str
    first: date
    last: date
    label: str

    @classmethod
    def of(cls, p: Period) -> PeriodOut:
        return cls(kind=p.kind.value, first=p.first, last=p.last, label=p.label)


class TotalsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "cases": 120, "closed": 110, "closed_on_time": 100, "cancelled": 4, "open": 6,
        "closure_rate": 0.9483, "on_time_closure_rate": 0.9091}]})

    cases: int
    closed: int
    closed_on_time: int
    cancelled: int
    open: int
    closure_rate: float | None  # closed / (cases − cancelled); None when nothing was to close
    on_time_closure_rate: float | None  # closed on time / closed

    @classmethod
    def of(cls, t: shaping.Totals) -> TotalsOut:
        return cls(cases=t.cases, closed=t.closed, closed_on_time=t.closed_on_time, cancelled=t.cancelled,
                   open=t.open, closure_rate=t.closure_rate, on_time_closure_rate=t.on_time_closure_rate)


class CountOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "key": "E0102", "name": "暴露垃圾", "share": 0.25, "totals": {
            "cases": 30, "closed": 28, "closed_on_time": 27, "cancelled": 1, "open": 1, "closure_rate": 0.9655,
            "on_time_closure_rate": 0.9643}}]})

    key: str | None  # the code (category, source, street, community, cell, grid); None: no cell
    name: str
    share: float | None
    totals: TotalsOut

    @classmethod
    def of(cls, c: shaping.Count) -> CountOut:
        return cls(key=c.key, name=c.name, share=c.share, totals=TotalsOut.of(c.totals))


class HotSpotOut(BaseModel):
    cell: str
    category: str
    category_name: str
    cases: int


class TrendPointOut(BaseModel):
    start: date
    cases: int
    previous_start: date | None  # None: the previous period has no bucket at this position
    previous_cases: int


class TrendOut(BaseModel):
    bucket: str  # day or week
    cases: int
    previous_cases: int
    change: float | None  # (cases − previous) / previous
    points: list[TrendPointOut]


class StatisticsOut(BaseModel):
    period: PeriodOut
    previous: PeriodOut
    filters: dict[str, str]
    totals: TotalsOut
    by_category: list[CountOut]
    by_source: list[CountOut]
    area_level: str
    by_area: list[CountOut]
    hot_cells: list[CountOut]
    recurring: list[HotSpotOut]
    trend: TrendOut

    @classmethod
    def of(cls, s: shaping.Statistics, filters: dict[str, str]) -> StatisticsOut:
        t = s.trend
        return cls(
            period=PeriodOut.of(s.period), previous=PeriodOut.of(s.previous), filters=filters,
            totals=TotalsOut.of(s.totals), by_category=[CountOut.of(c) for c in s.by_category],
            by_source=[CountOut.of(c) for c in s.by_source], area_level=s.area_level.value,
            by_area=[CountOut.of(c) for c in s.by_area], hot_cells=[CountOut.of(c) for c in s.hot_cells],
            recurring=[HotSpotOut(cell=h.cell, category=h.category, category_name=h.category_name, cases=h.cases)
                       for h in s.recurring],
            trend=TrendOut(bucket=t.bucket.value, cases=t.cases, previous_cases=t.previous_cases, change=t.change,
                           points=[TrendPointOut(start=p.start, cases=p.cases, previous_start=p.previous_start,
                                                 previous_cases=p.previous_cases) for p in t.points]))


class PublicationOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 3, "kind": "monthly", "title": "2026年11月数字城管月度通报", "period": {
            "kind": "month", "first": "2026-11-01", "last": "2026-11-30", "label": "2026年11月"},
        "generated_at": "2026-12-01T01:00:00Z", "trigger": "schedule", "cases": 1234,
        "xlsx_bytes": 23456, "pdf_bytes": 123456}]})

    id: int
    kind: str
    title: str
    period: PeriodOut
    generated_at: datetime
    trigger: str  # schedule, cli or api
    cases: int
    xlsx_bytes: int
    pdf_bytes: int


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"kind": "monthly",
                                                                               "day": "2026-11-01"}]})

    kind: PublicationKind
    day: date | None = None  # any day in the period (default: today, platform clock)
