"""The people's scenario file: who works when, how long each step takes, how often each person errs.

One YAML file (simulators/scenarios/county.yaml) holds every distribution, so a run is described by
the file and a seed. Delays are minutes of simulated time, drawn from a log-normal distribution given
by its median and 90th percentile (a step usually takes about the median, a few take much longer: the
shape of real handling times). Working hours are local (Beijing) clock times on the given weekdays.
Unknown keys are errors that name the key, so a typo never silently keeps a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "county.yaml"
MONTH_SCENARIO = DEFAULT_SCENARIO.with_name("county-month.yaml")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Rate = Annotated[float, Field(ge=0.0, le=1.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Delay(_Model):
    """Minutes of simulated time: log-normal with this median and 90th percentile."""

    median: Annotated[float, Field(gt=0)]
    p90: Annotated[float, Field(gt=0)]

    @model_validator(mode="after")
    def _ordered(self) -> Delay:
        if self.p90 < self.median:
            raise ValueError(f"p90 ({self.p90}) below the median ({self.median})")
        return self


class Shift(_Model):
    """When a person is at work: local periods ("08:30-12:00") on weekdays ("mon" … "sun")."""

    hours: list[str] = ["00:00-24:00"]
    days: list[Weekday] = list(WEEKDAYS)

    @field_validator("hours")
    @classmethod
    def _periods(cls, value: list[str]) -> list[str]:
        for period in value:
            start, end = parse_period(period)
            if end <= start:
                raise ValueError(f"period {period!r} ends before it starts")
        return value

    def periods(self) -> list[tuple[int, int]]:
        """(start, end) minutes of the local day per period (end up to 1440, midnight)."""
        return [parse_period(p) for p in self.hours]


def parse_period(period: str) -> tuple[int, int]:
    """"08:30-12:00" → (510, 720), minutes of the day; "24:00" is allowed as an end."""
    try:
        a, b = (part.strip() for part in period.split("-"))
        ha, ma = (int(x) for x in a.split(":"))
        hb, mb = (int(x) for x in b.split(":"))
    except ValueError:
        raise ValueError(f"period {period!r} is not HH:MM-HH:MM") from None
    if not (0 <= ha < 24 and 0 <= ma < 60 and 0 <= mb < 60 and (0 <= hb < 24 or (hb == 24 and mb == 0))):
        raise ValueError(f"period {period!r} is not HH:MM-HH:MM")
    return ha * 60 + ma, hb * 60 + mb


class Scope(_Model):
    """The part of the platform these people work on (tests share a database with others)."""

    cell_prefix: Annotated[str, Field(pattern=r"^[0-9]{1,15}$")] | None = None
    departments: list[str] | None = None  # default: every department the API lists
    grids: list[str] | None = None  # default: every responsibility grid with a cell in scope


class Operators(_Model):
    count: Annotated[int, Field(ge=1)] = 2
    shift: Shift = Shift()
    accept: Delay = Delay(median=3, p90=8)  # 受理 (the accept limit is 10 working minutes)
    send_verify: Delay = Delay(median=5, p90=15)
    send_check: Delay = Delay(median=10, p90=30)
    # Sources whose reports the city verifies (核实) before filing (lifecycle.Policy's default).
    verify_sources: list[str] = ["hotline", "leader", "transfer"]
    # A second call about a problem: same category, same cell, still open, reported within this window.
    duplicate_window_h: Annotated[float, Field(gt=0)] = 48.0


class ShiftLeaders(_Model):
    count: Annotated[int, Field(ge=1)] = 1
    shift: Shift = Shift()
    file: Delay = Delay(median=10, p90=25)
    close: Delay = Delay(median=10, p90=30)
    cancel: Delay = Delay(median=15, p90=40)


class Dispatchers(_Model):
    count: Annotated[int, Field(ge=1)] = 1
    shift: Shift = Shift()
    dispatch: Delay = Delay(median=8, p90=25)
    approve: Delay = Delay(median=20, p90=60)
    # The share of first dispatches sent to another department than the responsibility table's (its
    # handler asks for the case to be returned; after a return the dispatcher follows the table).
    wrong_department_rate: Rate = 0.03
    default_department: str | None = None  # where a case goes when the table names nobody


class Handling(_Model):
    """How a department's handlers work; `overrides` in `Departments` change it per department."""

    shift: Shift = Shift(hours=["08:00-12:00", "14:00-18:00"])
    sign: Delay = Delay(median=20, p90=60)
    dispose: Delay = Delay(median=90, p90=300)
    request_return: Delay = Delay(median=15, p90=45)
    # Late: the case is disposed only after the platform's disposal deadline has passed (by this much).
    late_rate: Rate = 0.08
    late_by: Delay = Delay(median=60, p90=240)
    postpone_rate: Rate = 0.04
    postpone_days: Annotated[float, Field(gt=0, le=30)] = 1.0
    # Problems that take weeks (works to plan, materials to buy): more time is asked for, `long_days`, and the
    # case is disposed within it. These are the cases still open at a month's end (the seed's 2.5 %).
    long_rate: Rate = 0.0
    long_days: Annotated[float, Field(gt=0, le=60)] = 20.0


class Departments(Handling):
    overrides: dict[str, dict[str, object]] = {}

    def for_department(self, department_id: str) -> Handling:
        base = self.model_dump(exclude={"overrides"})
        return Handling.model_validate({**base, **self.overrides.get(department_id, {})})


class Inspectors(_Model):
    """Inspectors answering verification and check tasks that reached no handheld (through the API)."""

    shift: Shift = Shift(hours=["07:30-18:30"])
    answer: Delay = Delay(median=20, p90=45)
    refute_rate: Rate = 0.03  # verification finds nothing → the case is cancelled
    check_fail_rate: Rate = 0.06  # the check finds the problem unsolved → rework (返工)
    max_reworks: Annotated[int, Field(ge=0)] = 2
    # No handheld simulator runs (the county month): the people's inspectors answer every task through the API,
    # those sent to a handheld too.
    answer_handheld_tasks: bool = False


class Patrol(_Model):
    """Inspectors' patrol reports through the API (the handheld app's `POST /cases`), per responsibility grid.
    Zero when the handheld simulator reports over MQTT (`civicgrid run`)."""

    shift: Shift = Shift(hours=["07:30-18:30"])
    reports_per_day: Annotated[float, Field(ge=0)] = 0.0  # per grid, a Poisson process in the shift
    self_handle_rate: Rate = 0.0  # 自处理: fixed on the spot, closed at once
    categories: dict[str, Annotated[float, Field(gt=0)]] = {"E0102": 5, "E0505": 3, "E0504": 3, "E0201": 3,
                                                             "E0104": 2, "C0305": 2, "C0118": 1, "C0102": 1}


class VideoWall(_Model):
    """视频抓拍: an operator at the video wall files what the cameras caught (`POST /cases`, source camera)."""

    shift: Shift = Shift()
    captures_per_day: Annotated[float, Field(ge=0)] = 0.0
    categories: dict[str, Annotated[float, Field(gt=0)]] = {"E0504": 3, "E0505": 3, "E0102": 2, "E0501": 1,
                                                             "E0507": 1}


class Month(_Model):
    """The county month (`civicgrid county-month`): how long, how fast, and the drain after it."""

    days: Annotated[float, Field(gt=0, le=92)] = 30.0
    # Simulated seconds per wall second, or "auto": as fast as the people keep `target_look_min` between two looks
    # at their work lists, within [min_speed, max_speed] (simulators/people/pace.py, docs/county-month.md).
    speed: Annotated[float, Field(gt=0, le=100_000)] | Literal["auto"] = 600.0
    target_look_min: Annotated[float, Field(gt=0, le=24 * 60)] = 10.0
    min_speed: Annotated[float, Field(gt=0, le=100_000)] = 30.0
    max_speed: Annotated[float, Field(gt=0, le=100_000)] = 1200.0
    # After the month no new problems come in and the people finish what is open, at most this long.
    drain_days: Annotated[float, Field(ge=0, le=30)] = 3.0
    # Calibration target, stated in the report beside what the run produced (the county seed, docs/county-month.md).
    seed_source_mix: dict[str, float] = {"inspector": 95.0, "camera": 3.0, "hotline": 2.0}
    seed_closure_pct: float = 97.5
    # How the scenario's rates were set against those figures: printed in the report, so that a reader of a run's
    # figures sees which of them were made to match and which were measured.
    calibration: str = ""

    @model_validator(mode="after")
    def _speed_bounds(self) -> Month:
        if self.min_speed > self.max_speed:
            raise ValueError(f"month.min_speed {self.min_speed} is above month.max_speed {self.max_speed}")
        return self


class Citizens(_Model):
    shift: Shift = Shift(hours=["07:00-22:00"])
    calls_per_day: Annotated[float, Field(ge=0)] = 20.0
    repeat_rate: Rate = 0.15  # calls again about the same problem
    repeat_after: Delay = Delay(median=60, p90=240)
    max_problems: Annotated[int, Field(ge=0)] | None = None  # stop after this many (tests)
    categories: dict[str, Annotated[float, Field(gt=0)]] = {"E0102": 4, "E0505": 3, "E0504": 2, "E0201": 2,
                                                             "E0404": 1, "C0118": 1}


class PeopleScenario(_Model):
    seed: int = 1
    poll_s: Annotated[float, Field(gt=0, le=60)] = 3.0  # wall seconds between looks at a work list
    user_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,20}$")] = "sim-"
    scope: Scope = Scope()
    operators: Operators = Operators()
    shift_leaders: ShiftLeaders = ShiftLeaders()
    dispatchers: Dispatchers = Dispatchers()
    departments: Departments = Departments()
    inspectors: Inspectors = Inspectors()
    citizens: Citizens = Citizens()
    patrol: Patrol = Patrol()
    video: VideoWall = VideoWall()
    month: Month = Month()


def load_scenario(path: Path | str = DEFAULT_SCENARIO) -> PeopleScenario:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return PeopleScenario.model_validate(data)
