"""The month's adaptive speed (simulators/people/pace.py): settles on the target look interval, damped."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from simulators.people.pace import Pace, PaceSettings

T0 = datetime(2026, 11, 3, tzinfo=UTC)
LEAD = 2.0


def settled(speed: float, wall_per_tick: float) -> bool:
    """The look interval within the deadband (±15 % of the target ratio) of 10 simulated minutes."""
    return 0.85 <= 10 / (speed * wall_per_tick / 60) <= 1.15


def run(pace: Pace, wall_per_tick: Callable[[float], float], seconds: int) -> list[tuple[float, float]]:
    """A synthetic machine: a tick takes `wall_per_tick(t)` wall seconds whatever the speed; sampled every second.

    Returns (wall s, speed) each second; a change applies LEAD seconds after it is decided (the schedule's lead)."""
    speed, ticks_f, sim, pending, out = pace.speed, 0.0, T0, [], []
    for t in range(seconds):
        for when, new in list(pending):
            if when <= t:
                speed = new
                pending.remove((when, new))
        ticks_f += 1 / wall_per_tick(t)
        sim += timedelta(seconds=speed)
        if (new := pace.observe(float(t), int(ticks_f), sim, LEAD)) is not None:
            pending.append((t + LEAD, new))
        out.append((float(t), speed))
    return out


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
