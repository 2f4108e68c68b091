"""Time limits of the case steps and the deadline arithmetic (docs/domain.md §5).

Every step has a limit counted in working time on the city's `WorkingCalendar`
unless the rule says natural time (class A: 2 natural hours, because safety cannot
wait for Monday). "N working days" is N × the calendar's working-day length, so a
case dispatched at 10:00 with one working day is due at 10:00 on the next working
day. Suspension (挂账) stops the clock; approved postponement (延期) extends the
disposal limit and never shortens it. Defaults live in `time_limits.yaml`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from importlib import resources
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from civicgrid.domain.errors import DomainError
from civicgrid.domain.working_calendar import WorkingCalendar

Pause = tuple[datetime, datetime]


class DisposalClass(StrEnum):
    """Disposal urgency classes A–F (A: 2 natural hours … F: 20 working days)."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    F = "F"


class Step(StrEnum):
    """The steps that carry a time limit; `dispose` is set per class, the rest per step."""

    ACCEPT = "accept"
    VERIFY = "verify"
    FILE = "file"
    DISPATCH = "dispatch"
    DISPOSE = "dispose"
    CHECK = "check"
    CLOSE = "close"


class Unit(StrEnum):
    MINUTES = "minutes"  # working minutes
    HOURS = "hours"  # working hours
    DAYS = "days"  # working days (× calendar.day_length)
    NATURAL_MINUTES = "natural_minutes"
    NATURAL_HOURS = "natural_hours"
    NATURAL_DAYS = "natural_days"


class Light(StrEnum):
    """Display colour by the share of the limit used."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class TimeLimitError(DomainError):
    """Time-limit data or a request that cannot be computed."""


_UNIT_DELTA = {
    Unit.MINUTES: timedelta(minutes=1),
    Unit.HOURS: timedelta(hours=1),
    Unit.NATURAL_MINUTES: timedelta(minutes=1),
    Unit.NATURAL_HOURS: timedelta(hours=1),
    Unit.NATURAL_DAYS: timedelta(days=1),
}


@dataclass(frozen=True, slots=True)
class Limit:
    """A time limit such as 4 working hours or 2 natural hours."""

    amount: float
    unit: Unit

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise TimeLimitError(f"a time limit cannot be negative: {self.amount} {self.unit}")

    @property
    def natural(self) -> bool:
        return self.unit.startswith("natural")

    @classmethod
    def of(cls, value: Limit | Mapping[str, Any]) -> Limit:
        """A limit, or its JSON form ``{"amount", "unit"}`` (a request body, a stored snapshot or event)."""
        return value if isinstance(value, Limit) else cls(float(value["amount"]), Unit(value["unit"]))

    def as_json(self) -> dict[str, Any]:
        return {"amount": self.amount, "unit": self.unit.value}

    def duration(self, calendar: WorkingCalendar) -> timedelta:
        """Length of the limit: natural time, or working time on `calendar`."""
        if self.unit is Unit.DAYS:
            return calendar.day_length * self.amount
        return _UNIT_DELTA[self.unit] * self.amount

    def __add__(self, other: Limit) -> Limit:
        if other.unit is not self.unit:
            raise TimeLimitError(f"cannot add {other.unit} to {self.unit}")
        return Limit(self.amount + other.amount, self.unit)


def _elapsed(start: datetime, end: datetime, natural: bool, calendar: WorkingCalendar) -> timedelta:
    if natural:
        return max(end - start, timedelta())
    return calendar.working_time_between(start, end)


def _advance(start: datetime, span: timedelta, natural: bool, calendar: WorkingCalendar) -> datetime:
    return start + span if natural else calendar.add_working_time(start, span)


def deadline(
    start: datetime, limit: Limit, calendar: WorkingCalendar, pauses: Iterable[Pause] = ()
) -> datetime:
    """When `limit` runs out for a step that started at `start`.

    `pauses` are [from, to) intervals in which the clock stopped (suspension); for a
    case suspended right now pass (suspended_at, now): the answer is then the deadline
    as if it were resumed now. Monotonic in start and in the limit.
    """
    remaining = limit.duration(calendar)
    current = start
    for p_start, p_end in sorted(pauses):
        if p_end <= current:
            continue
        candidate = _advance(current, remaining, limit.natural, calendar)
        if candidate <= p_start:
            return candidate
        remaining -= _elapsed(current, max(p_start, current), limit.natural, calendar)
        current = max(current, p_end)
    return _advance(current, remaining, limit.natural, calendar)


def after_suspension(deadline_at: datetime, suspended_at: datetime, resumed_at: datetime, limit: Limit,
                     calendar: WorkingCalendar) -> datetime:
    """A stored deadline once a suspension (挂账) from `suspended_at` to `resumed_at` is over.

    Suspension stops the clock (docs/domain.md), so the time that was left when it
    stopped counts again from the resume, in the limit's own kind of time: the
    same answer as `deadline` with the pause, for a caller that keeps only the
    deadline.  A deadline already passed when the case was suspended stays: the
    case was overdue before the clock stopped.
    """
    if deadline_at <= suspended_at or resumed_at <= suspended_at:
        return deadline_at
    left = _elapsed(suspended_at, deadline_at, limit.natural, calendar)
    return max(deadline_at, _advance(resumed_at, left, limit.natural, calendar))


def elapsed(
    start: datetime, now: datetime, limit: Limit, calendar: WorkingCalendar, pauses: Iterable[Pause] = ()
) -> timedelta:
    """Time counted against the limit between start and now (pauses excluded)."""
    total = _elapsed(start, now, limit.natural, calendar)
    for p_start, p_end in pauses:
        s, e = max(p_start, start), min(p_end, now)
        if e > s:
            total -= _elapsed(s, e, limit.natural, calendar)
    return total


def remaining(deadline_at: datetime, now: datetime, limit: Limit, calendar: WorkingCalendar) -> timedelta:
    """Time left until the deadline in the limit's own kind of time; negative once overdue."""
    if now <= deadline_at:
        return _elapsed(now, deadline_at, limit.natural, calendar)
    return -_elapsed(deadline_at, now, limit.natural, calendar)


def is_overdue(deadline_at: datetime, now: datetime) -> bool:
    """Overdue strictly after the deadline: finishing at the deadline is on time."""
    return now > deadline_at


def postpone(deadline_at: datetime, extension: Limit, calendar: WorkingCalendar) -> datetime:
    """The deadline after an approved postponement by `extension`; never earlier than before."""
    return _advance(deadline_at, extension.duration(calendar), extension.natural, calendar)


def share_used(
    start: datetime, now: datetime, limit: Limit, calendar: WorkingCalendar, pauses: Iterable[Pause] = ()
) -> float:
    """Elapsed / limit (0.0 … >1.0); a zero limit counts as fully used."""
    total = limit.duration(calendar)
    if total <= timedelta():
        return 1.0 if now > start else 0.0
    return elapsed(start, now, limit, calendar, pauses) / total


class LimitEntry(BaseModel):
    """One limit in a time-limit file: `{amount, unit}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    amount: float = Field(ge=0)
    unit: Unit


class TimeLimitsFile(BaseModel):
    """A time-limit file (the boundary; the rule pack reports its errors by row, civicgrid/cases/pack_check.py)."""

    model_config = ConfigDict(extra="forbid")
    steps: dict[Step, LimitEntry] = {}
    disposal_classes: dict[DisposalClass, LimitEntry] = {}
    areas: dict[str, dict[DisposalClass, LimitEntry]] = {}
    categories: dict[str, LimitEntry] = {}
    light: dict[Light, float] = {}
    # Which cells are in which area class (core streets, general streets): cell-code prefixes, the longest wins;
    # a cell in none has no area class. A category's own limit in an area class comes before its own limit.
    area_cells: dict[str, list[Annotated[str, Field(pattern=r"^[0-9]{1,15}$")]]] = {}
    area_categories: dict[str, dict[str, LimitEntry]] = {}


@dataclass(frozen=True, slots=True)
class TimeLimits:
    """A city's limits: per step, per disposal class (optionally per area), per category."""

    steps: Mapping[Step, Limit]
    disposal_classes: Mapping[DisposalClass, Limit]
    areas: Mapping[str, Mapping[DisposalClass, Limit]] = field(default_factory=dict)
    categories: Mapping[str, Limit] = field(default_factory=dict)
    light: Mapping[Light, float] = field(default_factory=lambda: {Light.YELLOW: 0.8, Light.RED: 1.0})
    source: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    area_cells: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    area_categories: Mapping[str, Mapping[str, Limit]] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TimeLimits:
        try:
            parsed = TimeLimitsFile.model_validate(data)
        except ValidationError as exc:
            raise TimeLimitError(f"time-limit data: {exc}") from exc

        def lim(m: LimitEntry) -> Limit:
            return Limit(m.amount, m.unit)

        missing = set(DisposalClass) - set(parsed.disposal_classes)
        if missing:
            raise TimeLimitError(f"time-limit data: disposal classes {sorted(missing)} have no limit")
        return cls(
            steps={k: lim(v) for k, v in parsed.steps.items()},
            disposal_classes={k: lim(v) for k, v in parsed.disposal_classes.items()},
            areas={a: {k: lim(v) for k, v in m.items()} for a, m in parsed.areas.items()},
            categories={k: lim(v) for k, v in parsed.categories.items()},
            light={Light.YELLOW: 0.8, Light.RED: 1.0, **parsed.light},
            source=dict(data),
            area_cells={a: tuple(p) for a, p in parsed.area_cells.items()},
            area_categories={a: {k: lim(v) for k, v in m.items()} for a, m in parsed.area_categories.items()},
        )

    def merged(self, city: Mapping[str, Any]) -> TimeLimits:
        """These limits with a city's data laid over them, key by key (one level deep)."""
        data: dict[str, Any] = {k: dict(v) for k, v in self.source.items()}
        for key, value in city.items():
            data.setdefault(key, {}).update(value)
        return TimeLimits.from_mapping(data)

    def step(self, step: Step | str) -> Limit:
        step = Step(step)
        try:
            return self.steps[step]
        except KeyError:
            raise TimeLimitError(f"no time limit for step {step}") from None

    def disposal(
        self, disposal_class: DisposalClass | str, *, category: str | None = None, area: str | None = None
    ) -> Limit:
        """Disposal limit: a category's own limit in the area class, else its own limit, else the area's class
        limit, else the class limit."""
        if category is not None and area is not None and category in self.area_categories.get(area, {}):
            return self.area_categories[area][category]
        if category is not None and category in self.categories:
            return self.categories[category]
        cls = DisposalClass(disposal_class)
        if area is not None and cls in self.areas.get(area, {}):
            return self.areas[area][cls]
        return self.disposal_classes[cls]

    def area_of(self, cell: str | None) -> str | None:
        """The area class of a grid cell: the area with the longest prefix of its code (None: no area class)."""
        if not cell:
            return None
        best: tuple[int, str] | None = None
        for area, prefixes in self.area_cells.items():
            for prefix in prefixes:
                if cell.startswith(prefix) and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), area)
        return None if best is None else best[1]

    def traffic_light(self, share: float) -> Light:
        """Green up to the yellow threshold (80 %), yellow up to red (100 %), red beyond."""
        if share > self.light[Light.RED]:
            return Light.RED
        if share > self.light[Light.YELLOW]:
            return Light.YELLOW
        return Light.GREEN


@functools.cache
def default_time_limits() -> TimeLimits:
    """The limits shipped with civicgrid (`time_limits.yaml`), read once."""
    text = resources.files("civicgrid.domain").joinpath("time_limits.yaml").read_text(encoding="utf-8")
    return TimeLimits.from_mapping(yaml.safe_load(text))


def disposal_deadline(
    start: datetime,
    limits: TimeLimits,
    calendar: WorkingCalendar,
    disposal_class: DisposalClass | str,
    *,
    category: str | None = None,
    area: str | None = None,
    extensions: Iterable[Limit] = (),
    pauses: Iterable[Pause] = (),
) -> datetime:
    """Disposal deadline of a case dispatched (or reworked) at `start`.

    The class (or category/area) limit, then each approved postponement added on top
    in its own kind of time; suspension pauses stop the clock throughout.
    """
    pauses = tuple(pauses)
    due = deadline(start, limits.disposal(disposal_class, category=category, area=area), calendar, pauses)
    for extension in extensions:
        due = deadline(due, extension, calendar, pauses)
    return due
