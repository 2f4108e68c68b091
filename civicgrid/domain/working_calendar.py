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
from typing import Annotated, Any

import chinese_calendar
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from civicgrid.domain.errors import DomainError

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
_KNOWN_YEARS = frozenset(d.year for d in chinese_calendar.holidays)
_MAX_DAYS_SCANNED = 3660  # a limit that finds no working day in ten years is a data error
_DAY = timedelta(days=1)


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
    # Round-the-clock duty (24-hour, no day off): working time is clock time, a working day 24 h, and
    # periods, weekdays, holidays and make-up days do not apply.
    round_the_clock: bool = False
    _day_length: timedelta = field(init=False, repr=False, compare=False)
    # Working days before each day of a year, by year, filled as years are asked (working_time_between).
    _year_prefix: dict[int, list[int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        total = timedelta()
        last_end: time | None = None
        for start, end in self.periods:
            if not start < end or (last_end is not None and start < last_end):
                raise CalendarError(f"working periods must be ordered and not overlap: {self.periods}")
            last_end = end
            total += datetime.combine(date.min, end) - datetime.combine(date.min, start)
        object.__setattr__(self, "_day_length", timedelta(days=1) if self.round_the_clock else total)
        object.__setattr__(self, "_year_prefix", {})

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> WorkingCalendar:
        """Build from city data (`CalendarFile`): periods ["08:30-12:00", ...], weekdays [1..7, Monday=1],
        holidays / workdays [dates], utc_offset_hours, use_chinese_calendar, round_the_clock."""
        try:
            parsed = CalendarFile.model_validate(data)
        except ValidationError as exc:
            unknown = [str(e["loc"][0]) for e in exc.errors() if e["type"] == "extra_forbidden"]
            if unknown:
                raise CalendarError(f"unknown calendar keys: {sorted(unknown)}") from exc
            raise CalendarError(f"calendar data: {exc}") from exc
        kwargs: dict[str, Any] = {
            "holidays": frozenset(parsed.holidays), "workdays": frozenset(parsed.workdays),
            "use_chinese_calendar": parsed.use_chinese_calendar, "round_the_clock": parsed.round_the_clock,
        }
        if parsed.periods is not None:
            kwargs["periods"] = tuple(parse_period(p) for p in parsed.periods)
        if parsed.weekdays is not None:
            kwargs["weekdays"] = frozenset(d - 1 for d in parsed.weekdays)
        if parsed.utc_offset_hours is not None:
            hours = parsed.utc_offset_hours
            kwargs["tz"] = timezone(timedelta(hours=hours), parsed.timezone_name or f"UTC{hours:+g}")
        return cls(**kwargs)

    @property
    def day_length(self) -> timedelta:
        """Working time in one working day (7 h by default): the length of "1 working day"."""
        return self._day_length

    def is_working_day(self, day: date) -> bool:
        if self.round_the_clock:
            return True
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
        if self.round_the_clock:
            midnight = datetime.combine(day, time(0), tzinfo=self.tz)
            return [(midnight, midnight + timedelta(days=1))]
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
        if duration == timedelta() or self.round_the_clock:
            return start + duration
        remaining = duration
        for s, e in self._periods_from(start):
            if e - s >= remaining:
                return (s + remaining).astimezone(start.tzinfo)
            remaining -= e - s
        raise AssertionError("unreachable: _periods_from raises when exhausted")  # pragma: no cover

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time in [start, end); zero when end is not after start.

        The days strictly between the first and the last are counted from per-year running totals, not walked
        period by period: a case list lights each dispatched case by the working time since its dispatch, which
        may be months (docs/performance.md, "One frame for the first view, and the case list's lights")."""
        _aware(start)
        _aware(end)
        if end <= start:
            return timedelta()
        if self.round_the_clock:
            return end - start
        first, last = start.astimezone(self.tz).date(), end.astimezone(self.tz).date()
        total = self._within_day(first, start, end)
        if last > first:
            total += self.day_length * self._working_days(first + _DAY, last)
            total += self._within_day(last, start, end)
        return total

    def _within_day(self, day: date, start: datetime, end: datetime) -> timedelta:
        """The working time of `day` that lies in [start, end)."""
        total = timedelta()
        for period_start, period_end in self.working_periods(day):
            s, e = max(period_start, start), min(period_end, end)
            if e > s:
                total += e - s
        return total

    def _working_days(self, first: date, stop: date) -> int:
        """Working days in [first, stop), from the years' running counts."""
        if stop <= first:
            return 0
        counts = self._year_counts(first.year)
        before = counts[first.timetuple().tm_yday - 1]
        if stop.year == first.year:
            return counts[stop.timetuple().tm_yday - 1] - before
        count = counts[-1] - before
        for year in range(first.year + 1, stop.year):
            count += self._year_counts(year)[-1]
        return count + self._year_counts(stop.year)[stop.timetuple().tm_yday - 1]

    def _year_counts(self, year: int) -> list[int]:
        """Working days of `year` before each of its days (index 0 = 1 January), and the year's total last."""
        counts = self._year_prefix.get(year)
        if counts is None:
            counts = [0]
            first = date(year, 1, 1)
            for n in range(date(year, 12, 31).timetuple().tm_yday):
                counts.append(counts[-1] + self.is_working_day(first + n * _DAY))
            self._year_prefix[year] = counts
        return counts


def parse_period(text: str) -> tuple[time, time]:
    """A working period as written in a calendar file, "08:30-12:00"."""
    start, end = str(text).split("-")
    return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())


def _checked_period(text: str) -> str:
    try:
        start, end = parse_period(text)
    except ValueError:
        raise ValueError(f"a working period is written HH:MM-HH:MM, e.g. 08:30-12:00, not {text!r}") from None
    if not start < end:
        raise ValueError(f"a working period ends after it starts: {text!r}")
    return text


class CalendarFile(BaseModel):
    """A working-calendar file (the boundary; the rule pack reports its errors by row,
    civicgrid/cases/pack_check.py). Keys left out keep the defaults of `WorkingCalendar`."""

    model_config = ConfigDict(extra="forbid")
    periods: list[Annotated[str, AfterValidator(_checked_period)]] | None = None
    weekdays: list[Annotated[int, Field(ge=1, le=7)]] | None = None  # Monday = 1
    holidays: list[date] = []
    workdays: list[date] = []
    utc_offset_hours: Annotated[float, Field(ge=-14, le=14)] | None = None
    timezone_name: str | None = None
    use_chinese_calendar: bool = True
    round_the_clock: bool = False

    @field_validator("holidays", "workdays", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


@functools.cache
def default_calendar() -> WorkingCalendar:
    """The calendar shipped with civicgrid (`working_calendar.yaml`), read once."""
    text = resources.files("civicgrid.domain").joinpath("working_calendar.yaml").read_text(encoding="utf-8")
    return WorkingCalendar.from_mapping(yaml.safe_load(text) or {})
