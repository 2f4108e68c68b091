"""The month's adaptive speed: as fast as the machine lets the people look at their work lists often enough.

Each person looks at their work list once a tick (simulators/people/town.py), and a tick takes the wall time of
the looks plus `poll_s`, so the look interval in simulated time is about `speed × wall seconds per tick`: the
granularity of every delay (docs/county-month.md). `Pace` measures the look interval over a window of ticks run
wholly at one speed and proposes the speed that brings it to the target, damped so that it settles rather than
oscillates: nothing changes while the interval is within `deadband` of the target; a change goes only part of the
way (the ratio's `gain` power, a geometric step that never overshoots on a machine whose tick time does not
depend on the speed) and at most `max_step` times up or down; a new window starts only once the change has taken
effect (the schedule's lead time, civicgrid/clock_schedule.py). The speeds stay within [min_speed, max_speed].
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PaceSettings:
    target_look_min: float = 10.0  # simulated minutes between two looks at a work list
    min_speed: float = 30.0
    max_speed: float = 1200.0
    window_ticks: int = 20  # a measurement spans at least this many ticks …
    window_s: float = 15.0  # … and this many wall seconds
    deadband: float = 0.15  # no change while the interval is within ±15 % of the target
    gain: float = 0.5  # go this power of the way (0.5: the geometric half-way)
    max_step: float = 2.0  # at most ×2 or ÷2 at a time

    def __post_init__(self) -> None:
        if not (0 < self.min_speed <= self.max_speed and self.target_look_min > 0 and 0 < self.gain <= 1
                and self.max_step > 1 and self.window_ticks >= 1 and self.deadband >= 0):
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

    def __post_init__(self) -> None:
        self.speed = self.clamp(self.speed)

    def clamp(self, speed: float) -> float:
        return min(max(speed, self.settings.min_speed), self.settings.max_speed)

    def observe(self, wall_s: float, ticks: int, sim: datetime, lead_s: float = 0.0) -> float | None:
        """A new speed to put in force `lead_s` from `wall_s`, or None to keep the current one."""
        s = self.settings
        if wall_s < self._effective or ticks < 1:
            return None
        if self._since is None:
            self._since = (wall_s, ticks, sim)
            return None
        wall0, ticks0, sim0 = self._since
        if ticks - ticks0 < s.window_ticks or wall_s - wall0 < s.window_s:
            return None
        interval = (sim - sim0).total_seconds() / 60 / (ticks - ticks0)
        self.intervals.append(interval)
        self._since = (wall_s, ticks, sim)
        ratio = s.target_look_min / interval if interval > 0 else s.max_step
        if abs(ratio - 1) <= s.deadband:
            return None
        step = min(max(ratio ** s.gain, 1 / s.max_step), s.max_step)
        new = self.clamp(self.speed * step)
        if abs(new - self.speed) < 1e-9 * self.speed:
            return None  # at a bound already
        self.speed, self._since, self._effective = new, None, wall_s + lead_s
        self.history.append((wall_s + lead_s, new))
        return new

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
                "look_intervals_sim_min": [round(x, 2) for x in self.intervals[-12:]],
                "median_look_interval_sim_min": round(statistics.median(self.intervals), 2) if self.intervals else None}
