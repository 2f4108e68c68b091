"""The clock schedule (civicgrid/clock_schedule.py): a speed that changes during a run, agreed by every process."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from civicgrid.clock import ClockSettings, PlatformClock
from civicgrid.clock_schedule import LiveSchedule, Schedule, ScheduleError, Segment, read_schedule, write_schedule

START = datetime(2026, 11, 3, tzinfo=UTC)
WALL = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def test_segments_are_continuous_and_monotonic_across_changes() -> None:
    s = Schedule.fixed(START, 600, WALL).then(200, WALL + timedelta(seconds=10)).then(900, WALL + timedelta(
        seconds=25))
    assert s.at(WALL + timedelta(seconds=10)) == START + timedelta(seconds=6000)
    assert s.at(WALL + timedelta(seconds=25)) == START + timedelta(seconds=6000 + 15 * 200)
    walls = [WALL + timedelta(milliseconds=ms) for ms in range(-2000, 40_000, 7)]
    sims = [s.at(w) for w in walls]
    assert all(b > a for a, b in itertools.pairwise(sims))
    for seg in s.segments[1:]:  # no jump at a switch: a microsecond either side is a fraction of a second apart
        before, after = s.at(seg.wall - timedelta(microseconds=1)), s.at(seg.wall)
        assert timedelta(0) <= after - before < timedelta(milliseconds=2)
    assert s.speed_at(WALL + timedelta(seconds=9)) == 600 and s.speed_at(WALL + timedelta(seconds=10)) == 200


def test_a_discontinuous_or_unordered_schedule_is_refused() -> None:
    first = Segment(WALL, START, 600)
    with pytest.raises(ScheduleError, match="jumps"):
        Schedule((first, Segment(WALL + timedelta(seconds=10), START, 600)))  # backwards by 6000 s
    with pytest.raises(ScheduleError, match="out of order"):
        Schedule((first, Segment(WALL, START, 300)))
    with pytest.raises(ScheduleError, match="after the last"):
        Schedule((first,)).then(300, WALL - timedelta(seconds=1))


def test_sleeping_until_a_time_follows_the_known_segments() -> None:
    s = Schedule.fixed(START, 600, WALL).then(100, WALL + timedelta(seconds=10))
    # 7000 simulated seconds from WALL: 6000 in the first 10 s at 600×, then 1000 at 100× (10 s).
    assert s.wall_until(START + timedelta(seconds=7000), WALL) == WALL + timedelta(seconds=20)
    assert s.wall_until(START + timedelta(seconds=600), WALL) == WALL + timedelta(seconds=1)


def _clock(path: Path, schedule: Schedule) -> PlatformClock:
    first = schedule.first
    return PlatformClock.from_settings(ClockSettings(start=first.sim, speed=first.speed, anchor=first.wall,
                                                     schedule=path))


def test_two_clocks_reading_one_file_agree_and_a_future_segment_waits(tmp_path: Path) -> None:
    path = tmp_path / "clock-schedule.json"
    wall0 = datetime.now(UTC)
    schedule = Schedule.fixed(START, 600, wall0)
    write_schedule(path, schedule)
    a, b = _clock(path, schedule), _clock(path, schedule)
    t1, t2 = a.now(), b.now()
    assert timedelta(0) <= t2 - t1 < timedelta(seconds=60)  # the same line (600× over at most 0.1 s here)
    change_at = datetime.now(UTC) + timedelta(seconds=1.5)
    write_schedule(path, schedule.then(60, change_at))
    time.sleep(0.6)  # past the re-read interval, before the change
    before = a.now()
    assert datetime.now(UTC) < change_at and a.live is not None and len(a.live.schedule.segments) == 2
    assert abs((before - schedule.at(datetime.now(UTC))).total_seconds()) < 120  # still on the 600× line
    while datetime.now(UTC) < change_at + timedelta(seconds=0.3):
        time.sleep(0.05)
    ta, tb = a.now(), b.now()
    assert ta > before and timedelta(0) <= tb - ta < timedelta(seconds=6)  # both at 60× now, both past the switch
    expected = schedule.then(60, change_at).at(datetime.now(UTC))
    assert abs((expected - tb).total_seconds()) < 6


def test_a_missing_or_malformed_file_is_a_clear_error_and_a_bad_rewrite_never_goes_back(tmp_path: Path) -> None:
    path = tmp_path / "clock-schedule.json"
    with pytest.raises(ScheduleError, match="No such file"):
        read_schedule(path)
    path.write_text('{"segments": [{"wall": "yesterday"}]}')
    with pytest.raises(ScheduleError, match="malformed"):
        LiveSchedule(path)
    schedule = Schedule.fixed(START, 600, datetime.now(UTC) - timedelta(seconds=5))
    write_schedule(path, schedule)
    with pytest.raises(ScheduleError, match=r"not at clock\.start"):
        PlatformClock.from_settings(ClockSettings(start=START + timedelta(days=1), schedule=path))
    live = LiveSchedule(path, reread_s=0.0)
    first = live.now()
    path.write_text("{not json")  # turned bad during the run: the last good schedule stays
    assert live.now() >= first
    # A schedule that rewrites the past (a slower segment back in time) is refused, not followed backwards.
    past = Schedule.fixed(START, 600, schedule.first.wall).then(1, schedule.first.wall + timedelta(seconds=1))
    write_schedule(path, past)
    t = live.now()
    assert t >= first and live.schedule == schedule
    path.unlink()
    assert live.now() >= t


def test_a_sleeper_under_a_schedule_wakes_within_the_lead_time(tmp_path: Path) -> None:
    path = tmp_path / "clock-schedule.json"
    write_schedule(path, Schedule.fixed(START, 600, datetime.now(UTC)))
    live = LiveSchedule(path)
    assert live.wall_seconds(300) == pytest.approx(0.5, abs=0.01)  # five simulated minutes at 600×
    assert live.wall_seconds(86_400) == 2.0  # a day is 144 s at 600×, but the speed may change: look again in 2 s
    assert live.wall_seconds(-5) == 0.0


def test_without_a_schedule_the_clock_is_the_fixed_line() -> None:
    settings = ClockSettings(start=START, speed=600, anchor=WALL)
    clock = PlatformClock.from_settings(settings)
    assert clock.live is None and clock.settings() == settings and "SCHEDULE" not in "".join(clock.env())
    with pytest.raises(ValueError, match=r"clock\.schedule needs"):
        ClockSettings(schedule=Path("x.json"))
