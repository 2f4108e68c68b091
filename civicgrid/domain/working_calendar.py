"""The working calendar that case time limits are counted on (docs/domain.md §5).

Defaults [ours]: Monday–Friday, 08:30–12:00 and 14:00–17:30, minus Chinese public
holidays, plus make-up working weekends (调休). The `chinese-calendar` package knows
both for the years released so far; a city's data (`WorkingCalendar.from_mapping`)
adds later years and overrides hours and dates. Times are timezone-aware; China has
kept UTC+8 without daylight saving since 1991, so the default zone is a fixed offset
(no tz database file is read).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from importlib import resources
from typing import Any

import chinese_calendar
import yaml

from civicgrid.domain.errors import DomainError

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
_KNOWN_YEARS = frozenset(d.year for d in chinese_calendar.holidays)
_MAX_DAYS_SCANNED = 3660  # a limit that finds no working day in ten years is a data error


class CalendarError(DomainError):
    """A calendar that cannot count working time, or a naive datetime."""


def _aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise CalendarError(f"datetime {at.isoformat()} has no timezone; pass aware datetimes")


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """Working days and hours of one city. `holidays`/`workdays` override everything else."""

    periods: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)), (time(14, 0), time(17, 30)))
    weekdays: frozenset[int] = frozenset(range(5))  # Monday = 0
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    tz: tzinfo = CHINA_TZ
    use_chinese_calendar: bool = True
    _day_length: timedelta = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        total = timedelta()
        last_end: time | None = None
        for start, end in self.periods:
            if not start < end or (last_end is not None and start < last_end):
                raise CalendarError(f"working periods must be ordered and not overlap: {self.periods}")
            last_end = end
            total += datetime.combine(date.min, end) - datetime.combine(date.min, start)
        object.__setattr__(self, "_day_length", total)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> WorkingCalendar:
        """Build from city data: periods ["08:30-12:00", ...], weekdays [1..7, Monday=1],
        holidays / workdays [dates], utc_offset_hours, use_chinese_calendar."""
        try:
            kwargs: dict[str, Any] = {}
            if "periods" in data:
                kwargs["periods"] = tuple(_period(p) for p in data["periods"])
            if "weekdays" in data:
                kwargs["weekdays"] = frozenset(int(d) - 1 for d in data["weekdays"])
            kwargs["holidays"] = frozenset(_date(d) for d in data.get("holidays") or ())
            kwargs["workdays"] = frozenset(_date(d) for d in data.get("workdays") or ())
            if "utc_offset_hours" in data:
                hours = float(data["utc_offset_hours"])
                kwargs["tz"] = timezone(timedelta(hours=hours), data.get("timezone_name", f"UTC{hours:+g}"))
            if "use_chinese_calendar" in data:
                kwargs["use_chinese_calendar"] = bool(data["use_chinese_calendar"])
            unknown = set(data) - {"periods", "weekdays", "holidays", "workdays", "utc_offset_hours",
                                   "timezone_name", "use_chinese_calendar"}
            if unknown:
                raise CalendarError(f"unknown calendar keys: {sorted(unknown)}")
        except (TypeError, ValueError) as exc:
            if isinstance(exc, CalendarError):
                raise
            raise CalendarError(f"calendar data: {exc}") from exc
        return cls(**kwargs)

    @property
    def day_length(self) -> timedelta:
        """Working time in one working day (7 h by default): the length of "1 working day"."""
        return self._day_length

    def is_working_day(self, day: date) -> bool:
        if day in self.holidays:
            return False
        if day in self.workdays:
            return True
        if self.use_chinese_calendar and day.year in _KNOWN_YEARS:
            if day in chinese_calendar.holidays:
                return False
            if day in chinese_calendar.workdays and day.weekday() >= 5:
                return True  # 调休: a weekend made a working day
        return day.weekday() in self.weekdays

    def working_periods(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's working periods as aware datetimes (empty on a day off)."""
        if not self.is_working_day(day):
            return []
        return [
            (datetime.combine(day, s, tzinfo=self.tz), datetime.combine(day, e, tzinfo=self.tz))
            for s, e in self.periods
        ]

    def _periods_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        day = start.astimezone(self.tz).date()
        for _ in range(_MAX_DAYS_SCANNED):
            for s, e in self.working_periods(day):
                if e > start:
                    yield max(s, start), e
            day += timedelta(days=1)
        raise CalendarError(f"no working time within {_MAX_DAYS_SCANNED} days after {start.isoformat()}")

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which `duration` of working time has passed since `start`.

        A zero duration returns `start` itself; a period's end is returned as is
        (12:00, not 14:00), so deadlines read naturally.
        """
        _aware(start)
        if duration < timedelta():
            raise CalendarError(f"negative working duration {duration}")
        if duration == timedelta():
            return start
        remaining = duration
        for s, e in self._periods_from(start):
            if e - s >= remaining:
                return (s + remaining).astimezone(start.tzinfo)
            remaining -= e - s
        raise AssertionError("unreachable: _periods_from raises when exhausted")  # pragma: no cover

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time in [start, end); zero when end is not after start."""
        _aware(start)
        _aware(end)
        total = timedelta()
        if end <= start:
            return total
        for s, e in self._periods_from(start):
            if s >= end:
                break
            total += min(e, end) - s
        return total


def _period(text: str) -> tuple[time, time]:
    start, end = str(text).split("-")
    return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@functools.cache
def default_calendar() -> WorkingCalendar:
    """The calendar shipped with civicgrid (`working_calendar.yaml`), read once."""
    text = resources.files("civicgrid.domain").joinpath("working_calendar.yaml").read_text(encoding="utf-8")
    return WorkingCalendar.from_mapping(yaml.safe_load(text) or {})
