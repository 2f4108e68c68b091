"""The county month's pure parts: on-duty time for streams of reports, where the month starts, the scenario."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from simulators.people.decisions import CST, after_on_duty, call_gap_minutes, on_duty_minutes_per_day
from simulators.people.month import month_start
from simulators.people.scenario import MONTH_SCENARIO, Shift, load_scenario

PATROL = Shift(hours=["07:30-12:00", "14:00-18:30"])


def test_on_duty_time_skips_the_hours_off() -> None:
    night = datetime(2026, 12, 4, 1, 0, tzinfo=CST)
    assert after_on_duty(night, 30, PATROL) == datetime(2026, 12, 4, 8, 0, tzinfo=CST)
    assert after_on_duty(datetime(2026, 12, 4, 11, 30, tzinfo=CST), 60, PATROL) == \
        datetime(2026, 12, 4, 14, 30, tzinfo=CST)
    assert after_on_duty(datetime(2026, 12, 4, 18, 0, tzinfo=CST), 60, PATROL) == \
        datetime(2026, 12, 5, 8, 0, tzinfo=CST)
    assert on_duty_minutes_per_day(PATROL) == 540


def test_a_day_of_reports_is_about_the_daily_rate_whatever_the_hours() -> None:
    rng, per_day = random.Random(5), on_duty_minutes_per_day(PATROL)
    t, end, n = datetime(2026, 12, 1, tzinfo=CST), datetime(2026, 12, 31, tzinfo=CST), 0
    while (t := after_on_duty(t, call_gap_minutes(20, rng, per_day), PATROL)) < end:
        n += 1
        assert PATROL.periods()[0][0] <= t.astimezone(CST).hour * 60 + t.astimezone(CST).minute
    assert 540 < n < 660  # 30 days × 20


def test_the_month_and_its_drain_end_before_the_present() -> None:
    now = datetime(2026, 12, 6, 21, 0, tzinfo=UTC)
    start = month_start(30, 3, now)
    assert start.astimezone(CST).hour == 0 and start + timedelta(days=33) < now - timedelta(hours=12)


def test_the_month_scenario_is_calibrated_to_the_seed_mix() -> None:
    s = load_scenario(MONTH_SCENARIO)
    patrol = s.patrol.reports_per_day * 8
    hotline = s.citizens.calls_per_day * (1 + s.citizens.repeat_rate)
    total = patrol + s.video.captures_per_day + hotline
    assert abs(100 * patrol / total - 95) < 0.5 and abs(100 * hotline / total - 2) < 0.5
    assert abs(total - 440) < 5 and s.inspectors.answer_handheld_tasks


def test_the_callers_make_their_daily_calls_however_long_a_tick_is() -> None:
    """The people act in ticks, which grow long on a busy machine (a tick every 24.7 simulated minutes in the
    full-volume month, longer by day). One call a tick, the next scheduled from the tick, made 81 calls where
    the scenario asked for about 228; chained from call to call, the day has its calls however long a tick."""
    import asyncio
    from types import SimpleNamespace

    from simulators.people.citizens import Citizens, Place

    class Stepped:
        def __init__(self, at: datetime) -> None:
            self.at = at

        def now(self) -> datetime:
            return self.at

    scenario = load_scenario(MONTH_SCENARIO)
    start = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)
    clock = Stepped(start)
    citizens = Citizens(SimpleNamespace(scenario=scenario, clock=clock), None, "", "",  # type: ignore[arg-type]
                        [Place("341523001001", 117.0, 31.5)])
    made: list[datetime] = []

    async def call(problem: object, *, again: bool = False) -> bool:
        if not again:
            made.append(clock.now())
        return True

    citizens.call = call  # type: ignore[method-assign]

    async def month() -> None:
        while clock.at < start + timedelta(days=30):
            await citizens.tick()
            clock.at += timedelta(minutes=90)  # a slow machine's tick

    asyncio.run(month())
    expected = scenario.citizens.calls_per_day * 30
    assert 0.8 * expected < len(made) < 1.2 * expected, (len(made), expected)
