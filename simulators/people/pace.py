"""The month's adaptive speed: as fast as the machine lets the people look at their work lists often enough.

Each person looks at their work list once a tick (simulators/people/town.py), and a tick takes the wall time of
the looks plus `poll_s`, so the look interval in simulated time is about `speed × wall seconds per tick`: the
granularity of every delay (docs/county-month.md). `Pace` measures the look interval over a window of ticks run
wholly at one speed and proposes the speed that brings it to the target, damped so that it settles rather than
oscillates: nothing changes while the interval is within `deadband` of the target; a rise goes only part of the
way (the ratio's `gain` power, a geometric step that never overshoots on a machine whose tick time does not
depend on the speed) and at most `max_step` times; a new window starts only once the change has taken effect
(the schedule's lead time, civicgrid/clock_schedule.py). The speeds stay within [min_speed, max_speed].

Slowing down is not damped, because a late look costs the people their deadlines while a slow minute costs only
wall time: a window that finds the interval `quick_over` times the target after `quick_ticks` ticks lowers the
speed at once and the whole way (at most ÷`max_step_down`). And the day repeats: the morning rush (patrols out,
departments signing the night's cases) makes each tick longer at the same hours every day, and feedback alone
found it only once the looks were already half an hour apart (the 7-day run's mornings, docs/county-month.md).
So `Pace` keeps each simulated hour of the day's wall seconds per tick from the last day it ran, and lowers the
speed before an hour that was slow, to that hour's speed, early enough for the change to be in force.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from civicgrid.domain.working_calendar import CHINA_TZ


@dataclass(frozen=True, slots=True)
class PaceSettings:
    target_look_min: float = 10.0  # simulated minutes between two looks at a work list
    min_speed: float = 30.0
    max_speed: float = 1200.0
    window_ticks: int = 20  # a measurement spans at least this many ticks …
    window_s: float = 15.0  # … and this many wall seconds
    deadband: float = 0.15  # no change while the interval is within ±15 % of the target
    gain: float = 0.5  # a rise goes this power of the way (0.5: the geometric half-way)
    max_step: float = 2.0  # at most ×2 at a time
    max_step_down: float = 4.0  # at most ÷4 at a time
    quick_ticks: int = 3  # after this many ticks, a look interval …
    quick_over: float = 1.5  # … this many times the target lowers the speed without waiting for the window
    remember_hours: bool = True  # slow down before an hour of the day that was slow the last time

    def __post_init__(self) -> None:
        if not (0 < self.min_speed <= self.max_speed and self.target_look_min > 0 and 0 < self.gain <= 1
                and self.max_step > 1 and self.max_step_down > 1 and self.window_ticks >= 1
                and self.deadband >= 0 and self.quick_ticks >= 1 and self.quick_over > 1):
            raise ValueError(f"unusable pace settings: {self}")


@dataclass(slots=True)
class Pace:
    """One run's speed controller. `observe` is given samples (wall seconds, ticks so far, simulated now)."""

    settings: PaceSettings
    speed: float
    _since: tuple[float, int, datetime] | None = None  # the window's first sample, at the current speed
    _effective: float = float("-inf")  # wall seconds from which the current speed is in force
    history: list[tuple[float, float]] = field(default_factory=list)  # (wall s, speed) of every change
    intervals: list[float] = field(default_factory=list)  # the look intervals measured, simulated minutes
    anticipated: int = 0  # changes made before a slow hour of the day
    _last: tuple[float, int, datetime] | None = None  # the previous sample
    # Local hour of the day -> (the day, wall seconds, ticks) of that hour's last day run.
    _hours: dict[int, tuple[date, float, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.speed = self.clamp(self.speed)

    def clamp(self, speed: float) -> float:
        return min(max(speed, self.settings.min_speed), self.settings.max_speed)

    def observe(self, wall_s: float, ticks: int, sim: datetime, lead_s: float = 0.0) -> float | None:
        """A new speed to put in force `lead_s` from `wall_s`, or None to keep the current one."""
        s = self.settings
        self._learn(wall_s, ticks, sim)
        if wall_s < self._effective or ticks < 1:
            return None
        if s.remember_hours and (ahead := self._slow_hour_ahead(sim, lead_s)) is not None:
            new = self._change(ahead, wall_s, lead_s)
            self.anticipated += new is not None  # (None: held at min_speed already)
            return new
        interval = self._window(wall_s, ticks, sim)
        if interval is None:
            return None
        ratio = s.target_look_min / interval if interval > 0 else s.max_step
        if abs(ratio - 1) <= s.deadband:
            return None
        step = min(ratio ** s.gain, s.max_step) if ratio > 1 else max(ratio, 1 / s.max_step_down)
        return self._change(self.speed * step, wall_s, lead_s)

    def _window(self, wall_s: float, ticks: int, sim: datetime) -> float | None:
        """The look interval of the window ending now, once it is long enough (or quick: well over the target)."""
        s = self.settings
        if self._since is None:
            self._since = (wall_s, ticks, sim)
            return None
        wall0, ticks0, sim0 = self._since
        done = ticks - ticks0
        if done < 1:
            return None
        interval = (sim - sim0).total_seconds() / 60 / done
        # Samples fall anywhere inside a tick, so `done` may count one tick more than ran: over a few ticks the
        # quick decision takes the interval's lower bound (one more tick), and so never slows down too far.
        shortest = (sim - sim0).total_seconds() / 60 / (done + 1)
        if done >= s.quick_ticks and shortest > s.quick_over * s.target_look_min:
            interval = shortest
        elif done < s.window_ticks or wall_s - wall0 < s.window_s:
            return None
        self.intervals.append(interval)
        self._since = (wall_s, ticks, sim)
        return interval

    def _change(self, speed: float, wall_s: float, lead_s: float) -> float | None:
        new = self.clamp(speed)
        if abs(new - self.speed) < 1e-9 * self.speed:
            return None  # at a bound already
        self.speed, self._since, self._effective = new, None, wall_s + lead_s
        self.history.append((wall_s + lead_s, new))
        return new

    def _learn(self, wall_s: float, ticks: int, sim: datetime) -> None:
        """Add the time since the previous sample to its local hour of the day (a new day starts the hour anew)."""
        last, self._last = self._last, (wall_s, ticks, sim)
        if last is None or wall_s <= last[0]:
            return
        local = last[2].astimezone(CHINA_TZ)
        day, wall, done = self._hours.get(local.hour, (local.date(), 0.0, 0))
        if day != local.date():
            wall, done = 0.0, 0
        self._hours[local.hour] = (local.date(), wall + wall_s - last[0], done + max(ticks - last[1], 0))

    def tick_s(self, hour: int) -> float | None:
        """Wall seconds per tick in this local hour of the day, the last day it ran (None: not known). An hour
        spans a few ticks only, and one of them may have begun in the hour before: the lower bound (one tick
        more), so that a remembered hour never slows the run more than it needs."""
        known = self._hours.get(hour)
        return known[1] / (known[2] + 1) if known and known[2] >= 1 else None

    def _slow_hour_ahead(self, sim: datetime, lead_s: float) -> float | None:
        """The speed for the next hour of the day if that hour was slow the last time and begins before a change
        made now and one more sample (two lead times) would be in force; None otherwise."""
        s = self.settings
        local = sim.astimezone(CHINA_TZ)
        boundary = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        if (boundary - local).total_seconds() > self.speed * (2 * lead_s + 1):
            return None
        tick_s = self.tick_s(boundary.hour)
        if tick_s is None or boundary.date() == self._hours[boundary.hour][0]:
            return None  # not known, or measured today already (the feedback is at work in it)
        speed = s.target_look_min * 60 / tick_s
        return speed if speed * (1 + s.deadband) < self.speed else None

    def summary(self, first_wall_s: float, end_wall_s: float, initial: float) -> dict[str, object]:
        """The speeds over the run, weighted by wall time: min, median, max, and each change (wall s from start)."""
        points = [(first_wall_s, initial), *[(w, v) for w, v in self.history if w < end_wall_s]]
        spans = [(v, max((points[i + 1][0] if i + 1 < len(points) else end_wall_s) - w, 0.0))
                 for i, (w, v) in enumerate(points)]
        weighted = sorted(spans)
        total, acc, median = sum(d for _, d in spans), 0.0, initial
        for v, d in weighted:
            acc += d
            if acc >= total / 2:
                median = v
                break
        return {"target_look_min": self.settings.target_look_min, "initial": round(initial, 1),
                "min": round(min(v for v, _ in spans), 1), "median": round(median, 1),
                "max": round(max(v for v, _ in spans), 1), "final": round(points[-1][1], 1),
                "changes": [[round(w - first_wall_s, 1), round(v, 1)] for w, v in points[1:]],
                "anticipated": self.anticipated, "look_intervals_sim_min": [round(x, 2) for x in self.intervals[-12:]],
                "median_look_interval_sim_min": round(statistics.median(self.intervals), 2) if self.intervals else None}
