"""The periods a centre counts and publishes by (docs/statistics.md): day, 旬, month, year, or a from/to range.

A period is a run of whole local days (the city's time zone, UTC+8) and a case belongs to the
period its report fell in, as in the evaluation tables (civicgrid.domain.scoring). Each period has
a previous one to compare with: the day, 旬, month or year before, or for a range the same
number of days just before it. Pure: no clock, `today` comes in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from civicgrid.domain.scoring import xun_bounds
from civicgrid.domain.working_calendar import CHINA_TZ

EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
MAX_RANGE_DAYS = 366  # a range longer than a year is a yearly question; one answer carries at most a year of days


class PeriodKind(StrEnum):
    DAY = "day"
    XUN = "xun"  # 旬: days 1–10, 11–20, 21–end of the month
    MONTH = "month"
    YEAR = "year"
    RANGE = "range"


class BadPeriod(ValueError):
    """A period that cannot be counted (reversed, too long, outside 2000–2100): the caller's mistake."""


@dataclass(frozen=True, slots=True)
class Period:
    kind: PeriodKind
    first: date  # first local day, inclusive
    last: date  # last local day, inclusive

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        """The first instant (aware, the city's zone)."""
        return datetime.combine(self.first, time(), CHINA_TZ)

    @property
    def end(self) -> datetime:
        """The instant after the last one (exclusive)."""
        return datetime.combine(self.last + timedelta(days=1), time(), CHINA_TZ)

    @property
    def label(self) -> str:
        """How a publication names it: 2026年11月, 2026年11月上旬, 2026年11月24日, 2026年, or first至last."""
        f = self.first
        if self.kind is PeriodKind.DAY:
            return f"{f.year}年{f.month}月{f.day}日"
        if self.kind is PeriodKind.XUN:
            return f"{f.year}年{f.month}月{('上', '中', '下')[(f.day - 1) // 10]}旬"
        if self.kind is PeriodKind.MONTH:
            return f"{f.year}年{f.month}月"
        if self.kind is PeriodKind.YEAR:
            return f"{f.year}年"
        return f"{f.isoformat()}至{self.last.isoformat()}"

    def previous(self) -> Period:
        """The period this one is compared with (trends)."""
        before = self.first - timedelta(days=1)
        if self.kind is PeriodKind.RANGE:
            return Period(PeriodKind.RANGE, self.first - timedelta(days=self.days), before)
        return period_of(self.kind, before)


def period_of(kind: PeriodKind, day: date) -> Period:
    """The day, 旬, month or year holding `day`."""
    _check_day(day)
    if kind is PeriodKind.DAY:
        return Period(kind, day, day)
    if kind is PeriodKind.XUN:
        first, last = xun_bounds(day)
        return Period(kind, first, last)
    if kind is PeriodKind.MONTH:
        first = day.replace(day=1)
        return Period(kind, first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1))
    if kind is PeriodKind.YEAR:
        return Period(kind, day.replace(month=1, day=1), day.replace(month=12, day=31))
    raise BadPeriod("a range needs its first and last day (date_from, date_to)")


def date_range(first: date, last: date) -> Period:
    _check_day(first)
    _check_day(last)
    if last < first:
        raise BadPeriod(f"date_from {first} is after date_to {last}")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise BadPeriod(f"a range covers at most {MAX_RANGE_DAYS} days; ask for a year instead")
    return Period(PeriodKind.RANGE, first, last)


def last_complete(kind: PeriodKind, today: date) -> Period:
    """The latest period of `kind` that ended before `today` (what a scheduled publication covers)."""
    return period_of(kind, today).previous()


def _check_day(day: date) -> None:
    if not EARLIEST <= day <= LATEST:
        raise BadPeriod(f"days lie between {EARLIEST} and {LATEST}, not {day}")
