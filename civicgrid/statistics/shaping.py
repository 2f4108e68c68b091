"""Counted rows → the statistics a centre reads: totals with rates, breakdowns with shares, hot spots, trends.

Pure: the rows come from civicgrid/store/statistics.py, the period from periods.py. Rates are
None where their denominator is zero (nothing to judge), never 0 or 1 by default.

* 结案率 closure rate = closed / (cases − cancelled): a cancelled report was never a problem to close.
* 按期结案率 on-time closure rate = closed on time (close type 正常) / closed.
* Hot cells: the cells with the most cases. Recurring problems (重复发生): a category reported at least
  twice in the same cell within the period, the most first.
* Trend: cases per day (periods up to two months) or per week (longer) against the bucket at the same
  position in the previous period; `change` = (this − previous) / previous.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from civicgrid.domain.sources import source_name
from civicgrid.statistics.periods import Period
from civicgrid.store.statistics import CountRow, Dimension, RecurringRow

DAY_BUCKETS_UP_TO = 62  # days; a longer period is shown per week (a year of days is unreadable in one chart)

NO_CELL = "无网格"  # a case outside every cell (its point lay outside the grid, or it had none)


class Bucket(StrEnum):
    DAY = "day"
    WEEK = "week"


@dataclass(frozen=True, slots=True)
class Totals:
    cases: int
    closed: int
    closed_on_time: int
    cancelled: int

    @property
    def open(self) -> int:
        return self.cases - self.closed - self.cancelled

    @property
    def closure_rate(self) -> float | None:
        return _rate(self.closed, self.cases - self.cancelled)

    @property
    def on_time_closure_rate(self) -> float | None:
        return _rate(self.closed_on_time, self.closed)


@dataclass(frozen=True, slots=True)
class Count:
    key: str | None
    name: str
    totals: Totals
    share: float | None  # of all cases in the answer


@dataclass(frozen=True, slots=True)
class HotSpot:
    cell: str
    category: str
    category_name: str
    cases: int


@dataclass(frozen=True, slots=True)
class TrendPoint:
    start: date  # first local day of the bucket
    cases: int
    previous_start: date | None  # None: the previous period is shorter and has no bucket here
    previous_cases: int


@dataclass(frozen=True, slots=True)
class Trend:
    bucket: Bucket
    points: tuple[TrendPoint, ...]
    cases: int
    previous_cases: int

    @property
    def change(self) -> float | None:
        return _rate(self.cases - self.previous_cases, self.previous_cases)


@dataclass(frozen=True, slots=True)
class Statistics:
    period: Period
    previous: Period
    totals: Totals
    by_category: tuple[Count, ...]
    by_source: tuple[Count, ...]
    area_level: Dimension
    by_area: tuple[Count, ...]
    hot_cells: tuple[Count, ...]
    recurring: tuple[HotSpot, ...]
    trend: Trend


def _rate(numerator: int, denominator: int) -> float | None:
    return None if denominator <= 0 else round(numerator / denominator, 4)


def totals_of(row: CountRow) -> Totals:
    return Totals(row.cases, row.closed, row.closed_on_time, row.cancelled)


def name_of(dimension: Dimension, row: CountRow) -> str:
    """What a table shows for a key: the category's or grid's name, the source's Chinese name from the one list of
    sources (civicgrid/domain/sources.py, also GET /sources), else the code."""
    if row.key is None:
        return NO_CELL if dimension not in (Dimension.CATEGORY, Dimension.SOURCE) else "未知"
    if dimension is Dimension.SOURCE:
        return source_name(row.key)
    return row.name or row.key


def counts(dimension: Dimension, rows: list[CountRow], total: int, limit: int | None = None) -> tuple[Count, ...]:
    chosen = rows if limit is None else rows[:limit]
    return tuple(Count(r.key, name_of(dimension, r), totals_of(r), _rate(r.cases, total)) for r in chosen)


def hot_spots(rows: list[RecurringRow]) -> tuple[HotSpot, ...]:
    return tuple(HotSpot(r.cell, r.category, r.category_name or r.category, r.cases) for r in rows)


def bucket_for(period: Period) -> Bucket:
    return Bucket.DAY if period.days <= DAY_BUCKETS_UP_TO else Bucket.WEEK


def bucket_starts(period: Period, bucket: Bucket) -> list[date]:
    """Every bucket the period touches, in order (weeks start on Monday, so the first may begin before it)."""
    step = 1 if bucket is Bucket.DAY else 7
    first = period.first if bucket is Bucket.DAY else period.first - timedelta(days=period.first.weekday())
    return [first + timedelta(days=step * i) for i in range((period.last - first).days // step + 1)]


def trend(period: Period, previous: Period, bucket: Bucket, now: dict[date, int], before: dict[date, int]) -> Trend:
    """Buckets of both periods side by side, by position (day 3 of this month beside day 3 of the last one)."""
    this_starts, previous_starts = bucket_starts(period, bucket), bucket_starts(previous, bucket)
    points = []
    for i, start in enumerate(this_starts):
        previous_start = previous_starts[i] if i < len(previous_starts) else None
        previous_cases = 0 if previous_start is None else before.get(previous_start, 0)
        points.append(TrendPoint(start, now.get(start, 0), previous_start, previous_cases))
    # Buckets of the previous period beyond this one's length still count in its total.
    return Trend(bucket, tuple(points), sum(now.values()), sum(before.values()))
