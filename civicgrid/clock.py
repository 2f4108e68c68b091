"""The platform's clock: the one "now" every service stamps case-domain times with and compares deadlines to.

By default it is the system clock. With `clock.start` set it is a simulated clock that every process of one
run reads alike, because it is a pure function of the wall clock and three settings:

    simulated now = start + (wall now − anchor) × speed

`anchor` is the wall time at which the simulated clock read `start`; a process that starts later computes the
same simulated time as one that started first. With `catch_up` the simulated clock never runs ahead of the
wall clock (it runs at `speed` until it reaches the present, then at 1×), which is what a day placed on today
needs (`civicgrid run`): devices may not send times from the future.

With `schedule` the speed may change during the run: the file (civicgrid/clock_schedule.py) lists segments
(from a wall time, the simulated time there, a speed) that every process re-reads, and `now()` follows them;
its first segment is `start` at `anchor` (`civicgrid county-month --speed auto`).

Case actions, the case service, the deadline watch, scoring's "today" and Open311 intake read `now()` here
instead of `datetime.now()`. A client never supplies the time of an action: the API stamps it (docs/
configuration.md, "The platform clock").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from civicgrid.clock_schedule import LiveSchedule, ScheduleError

ENV_PREFIX = "CIVICGRID_CLOCK__"


class ClockSettings(BaseModel):
    """`clock.*` (env `CIVICGRID_CLOCK__START`, `__SPEED`, `__ANCHOR`, `__CATCH_UP`, `__SCHEDULE`)."""

    model_config = ConfigDict(extra="forbid")

    # None: the system clock. Else the simulated time at `anchor` (an aware ISO 8601 time).
    start: datetime | None = None
    # Simulated seconds per wall second.
    speed: Annotated[float, Field(gt=0, le=1_000_000)] = 1.0
    # The wall time at which the simulated clock read `start`. Give it whenever several processes share the
    # clock (`civicgrid run` and the simulators always do); None: when this process built its clock.
    anchor: datetime | None = None
    # Never ahead of the wall clock: `speed` until the present is reached, then 1×.
    catch_up: bool = False
    # A clock schedule file (civicgrid/clock_schedule.py): the speed changes as it says, the same in every
    # process that reads it; its first segment must read `start`.
    schedule: Path | None = None

    @model_validator(mode="after")
    def _aware(self) -> ClockSettings:
        for name in ("start", "anchor"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"clock.{name} needs a time zone (e.g. 2026-11-02T00:00:00+08:00)")
        if self.anchor is not None and self.start is None:
            raise ValueError("clock.anchor without clock.start: an anchor places a simulated clock")
        if self.schedule is not None and (self.start is None or self.catch_up):
            raise ValueError("clock.schedule needs clock.start (its first segment's time) and no clock.catch_up")
        return self


@dataclass(frozen=True, slots=True)
class PlatformClock:
    """The clock of one process. `start` None: the system clock (speed and anchor unused)."""

    start: datetime | None = None
    speed: float = 1.0
    anchor: datetime | None = None
    catch_up: bool = False
    # The run's clock schedule when it has one (`clock.schedule`); `speed` and `anchor` are its first segment's.
    live: LiveSchedule | None = field(default=None, compare=False, repr=False)

    @classmethod
    def system(cls) -> PlatformClock:
        return cls()

    @classmethod
    def from_settings(cls, settings: ClockSettings) -> PlatformClock:
        if settings.start is None:
            return cls()
        if settings.schedule is not None:
            live = LiveSchedule(settings.schedule)
            first = live.schedule.first
            if first.sim != settings.start or (settings.anchor is not None and first.wall != settings.anchor):
                raise ScheduleError(f"clock schedule {settings.schedule} starts at {first.sim.isoformat()} from wall "
                                    f"{first.wall.isoformat()}, not at clock.start {settings.start.isoformat()}"
                                    + (f" from clock.anchor {settings.anchor.isoformat()}" if settings.anchor else ""))
            return cls(first.sim, first.speed, first.wall, False, live)
        anchor = settings.anchor or datetime.now(UTC)
        return cls(settings.start.astimezone(UTC), settings.speed, anchor.astimezone(UTC), settings.catch_up)

    @classmethod
    def simulated(cls, start: datetime, speed: float, *, anchor: datetime | None = None,
                  catch_up: bool = False) -> PlatformClock:
        """A simulated clock anchored now (or at `anchor`), as a run's composition root makes one."""
        return cls.from_settings(ClockSettings(start=start, speed=speed, anchor=anchor or datetime.now(UTC),
                                               catch_up=catch_up))

    @property
    def is_simulated(self) -> bool:
        return self.start is not None

    def now(self) -> datetime:
        """The platform's current time (aware, UTC)."""
        if self.live is not None:
            return self.live.now()
        wall = datetime.now(UTC)
        if self.start is None or self.anchor is None:
            return wall
        t = self.start + (wall - self.anchor) * self.speed
        return min(t, wall) if self.catch_up else t

    def wall_seconds(self, simulated_s: float) -> float:
        """Wall seconds that `simulated_s` of platform time take from now on (for sleeping until a time).

        Under a schedule at most its lead time (2 s): the speed may change, so a sleeper looks at `now()` again."""
        if self.live is not None:
            return self.live.wall_seconds(simulated_s)
        if self.start is None or (self.catch_up and self.now() >= datetime.now(UTC) - timedelta(seconds=1)):
            return simulated_s
        return simulated_s / self.speed

    def settings(self) -> ClockSettings:
        return ClockSettings(start=self.start, speed=self.speed, anchor=self.anchor, catch_up=self.catch_up,
                             schedule=self.live.path if self.live is not None else None)

    def env(self) -> dict[str, str]:
        """The environment that gives a child process this same clock (empty for the system clock)."""
        if self.start is None or self.anchor is None:
            return {}
        return {f"{ENV_PREFIX}START": self.start.isoformat(), f"{ENV_PREFIX}SPEED": repr(self.speed),
                f"{ENV_PREFIX}ANCHOR": self.anchor.isoformat(),
                f"{ENV_PREFIX}CATCH_UP": "true" if self.catch_up else "false",
                **({f"{ENV_PREFIX}SCHEDULE": str(self.live.path)} if self.live is not None else {})}

    def describe(self) -> str:
        if self.start is None or self.anchor is None:
            return "system clock"
        if self.live is not None:
            return (f"simulated clock: {self.start.isoformat()} from wall {self.anchor.isoformat()} on the schedule "
                    f"{self.live.path} (now {self.live.schedule.speed_at(datetime.now(UTC)):g}×)")
        return (f"simulated clock: {self.start.isoformat()} at {self.speed:g}× from wall {self.anchor.isoformat()}"
                + (" (catching up with the present)" if self.catch_up else ""))
