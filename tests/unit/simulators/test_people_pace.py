"""The month's adaptive speed (simulators/people/pace.py): settles on the target look interval, damped."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from civicgrid.domain.working_calendar import CHINA_TZ
from simulators.people.pace import Pace, PaceSettings

T0 = datetime(2026, 11, 3, tzinfo=UTC)
LEAD = 2.0


def settled(speed: float, wall_per_tick: float) -> bool:
    """The look interval within the deadband (±15 % of the target ratio) of 10 simulated minutes."""
    return 0.85 <= 10 / (speed * wall_per_tick / 60) <= 1.15


def machine(pace: Pace, wall_per_tick: Callable[[float, datetime], float],
            seconds: int) -> list[tuple[float, datetime, float, float]]:
    """A synthetic machine: a tick takes `wall_per_tick(t, sim)` wall seconds whatever the speed; sampled every
    second, a change applied LEAD seconds after it is decided (the schedule's lead). Returns (wall s, simulated
    time, speed, wall seconds per tick) each second."""
    speed, ticks_f, sim, pending, out = pace.speed, 0.0, T0, [], []
    for t in range(seconds):
        for when, new in list(pending):
            if when <= t:
                speed = new
                pending.remove((when, new))
        tick = wall_per_tick(t, sim)
        ticks_f += 1 / tick
        out.append((float(t), sim, speed, tick))
        sim += timedelta(seconds=speed)
        if (new := pace.observe(float(t), int(ticks_f), sim, LEAD)) is not None:
            pending.append((t + LEAD, new))
    return out


def run(pace: Pace, wall_per_tick: Callable[[float], float], seconds: int) -> list[tuple[float, float]]:
    """A machine whose tick time depends on the wall time only: (wall s, speed) each second."""
    return [(t, speed) for t, _, speed, _ in machine(pace, lambda t, _: wall_per_tick(t), seconds)]


def changes(series: list[tuple[float, float]]) -> list[float]:
    speeds = [s for _, s in series]
    return [b for a, b in itertools.pairwise(speeds) if b != a]


def test_it_settles_near_the_target_without_overshooting() -> None:
    # A tick takes 1.5 wall seconds: 10 simulated minutes a look is 400×; the run starts at 1200×.
    pace = Pace(PaceSettings(target_look_min=10, min_speed=30, max_speed=2000), 1200)
    series = run(pace, lambda t: 1.5, 600)
    steps = changes(series)
    assert steps and all(b < a for a, b in zip([1200.0, *steps], steps, strict=False))  # only down: no oscillation
    final = series[-1][1]
    assert settled(final, 1.5)
    assert all(s == final for _, s in series[-300:])  # settled: nothing changes in the last five minutes
    assert pace.intervals[-1] == pytest.approx(final * 1.5 / 60, rel=0.1)


def test_noise_within_the_deadband_changes_nothing_and_the_bounds_hold() -> None:
    pace = Pace(PaceSettings(target_look_min=10), 400)
    series = run(pace, lambda t: 1.5 * (1.1 if (t // 20) % 2 else 0.92), 600)  # ±10 % around the target
    assert changes(series) == []
    fast = Pace(PaceSettings(target_look_min=10, max_speed=900), 300)
    series = run(fast, lambda t: 0.2, 400)  # a machine that could go 3000×: held at max_speed
    assert max(s for _, s in series) == 900 and series[-1][1] == 900
    steps = changes(series)
    assert all(b / a <= 2.0 + 1e-9 for a, b in zip([300.0, *steps], steps, strict=False))  # at most ×2 a step


def test_a_load_that_doubles_mid_run_lowers_the_speed_once_and_settles_again() -> None:
    pace = Pace(PaceSettings(target_look_min=10), 750)
    series = run(pace, lambda t: 0.8 if t < 300 else 1.6, 900)
    assert settled(series[299][1], 0.8)
    after = [s for t, s in series if t >= 300]
    assert all(b <= a for a, b in itertools.pairwise(after))  # monotone down after the step in load
    assert settled(series[-1][1], 1.6) and series[-1][1] < series[299][1]
    summary = pace.summary(0.0, 900.0, 750)
    assert summary["min"] == round(series[-1][1], 1) and summary["max"] == 750


def rush(sim: datetime) -> float:
    """A day's ticks: 0.75 wall seconds (800× for the target), three times that in the morning rush, 07:30-12:00."""
    local = sim.astimezone(CHINA_TZ)
    return 2.25 if (7, 30) <= (local.hour, local.minute) < (12, 0) else 0.75


def looks(pace: Pace, seconds: int) -> list[tuple[datetime, float]]:
    """A machine whose tick time depends on the simulated hour (`rush`): (simulated time, look interval in
    simulated minutes) each wall second."""
    return [(sim, speed * tick / 60) for _, sim, speed, tick in machine(pace, lambda _, sim: rush(sim), seconds)]


def rush_looks(series: list[tuple[datetime, float]], day: int) -> list[float]:
    """The look intervals of each wall second of the day's rush (the run starts at 08:00 local on day 0)."""
    first = T0.astimezone(CHINA_TZ).date() + timedelta(days=day)
    return [look for sim, look in series if sim.astimezone(CHINA_TZ).date() == first and rush(sim) > 1]


def test_a_morning_rush_is_met_by_slowing_down_at_once_and_before_it_the_next_day() -> None:
    # The 7-day run's mornings (docs/county-month.md): feedback alone, damped, let the looks drift to 30 minutes
    # (26-27 minutes on average over this rush, with the controller before the quick step and the memory).
    def run_days(**settings: float | bool) -> list[tuple[datetime, float]]:
        return looks(Pace(PaceSettings(target_look_min=10, **settings), 800), 1200)  # four days at about 800×

    remembered = run_days()
    for day in (2, 3):
        rush_day = rush_looks(remembered, day)
        assert statistics.mean(rush_day) <= 13 and max(rush_day) <= 16, day  # slowed before 07:00 and at 07:30
    forgetful = [statistics.mean(rush_looks(run_days(remember_hours=False), day)) for day in (2, 3)]
    assert all(18 < m < 24 for m in forgetful), forgetful  # the quick step alone: down after three long ticks
    damped = [statistics.mean(rush_looks(run_days(remember_hours=False, quick_over=1e9), day)) for day in (2, 3)]
    assert all(m > 24 for m in damped), damped
