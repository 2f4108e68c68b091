"""Working calendar and time limits: exact deadlines, holidays, make-up days, pauses."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicgrid.domain.time_limits import (
    DisposalClass,
    Light,
    Limit,
    Step,
    TimeLimitError,
    TimeLimits,
    Unit,
    after_suspension,
    deadline,
    default_time_limits,
    disposal_deadline,
    elapsed,
    is_overdue,
    postpone,
    remaining,
    share_used,
)
from civicgrid.domain.working_calendar import CHINA_TZ, CalendarError, WorkingCalendar, default_calendar

CAL = default_calendar()
H = timedelta(hours=1)


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=CHINA_TZ)


def test_default_calendar() -> None:
    assert CAL is default_calendar()
    assert CAL.day_length == timedelta(hours=7)
    assert CAL.is_working_day(date(2024, 6, 3))  # Monday
    assert not CAL.is_working_day(date(2024, 6, 8))  # Saturday
    assert not CAL.is_working_day(date(2024, 6, 10))  # Dragon Boat Festival (Monday)
    assert not CAL.is_working_day(date(2024, 10, 1))  # National Day
    assert CAL.is_working_day(date(2024, 9, 29))  # make-up Sunday (调休)
    assert CAL.working_periods(date(2024, 6, 8)) == []
    assert CAL.working_periods(date(2024, 6, 3)) == [(at(2024, 6, 3, 8, 30), at(2024, 6, 3, 12)),
                                                      (at(2024, 6, 3, 14), at(2024, 6, 3, 17, 30))]


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (at(2024, 6, 3, 10), 4, at(2024, 6, 3, 16)),  # across lunch
        (at(2024, 6, 3, 8, 30), 3.5, at(2024, 6, 3, 12)),  # ends exactly at a period end
        (at(2024, 6, 3, 12, 30), 1, at(2024, 6, 3, 15)),  # starts in the lunch break
        (at(2024, 6, 3, 6), 0.5, at(2024, 6, 3, 9)),  # starts before work
        (at(2024, 6, 7, 16, 30), 2, at(2024, 6, 11, 9, 30)),  # Friday → weekend → holiday Monday
        (at(2024, 9, 30, 10), 7, at(2024, 10, 8, 10)),  # one working day across National Day
        (at(2024, 9, 28, 16), 1, at(2024, 9, 29, 9, 30)),  # Saturday → make-up Sunday
        (at(2024, 6, 3, 10), 0, at(2024, 6, 3, 10)),
        (at(2024, 6, 8, 10), 0, at(2024, 6, 8, 10)),
    ],
)
def test_add_working_time(start: datetime, hours: float, expected: datetime) -> None:
    assert CAL.add_working_time(start, hours * H) == expected


def test_other_timezones_are_converted_and_kept() -> None:
    start = datetime(2024, 6, 3, 2, 0, tzinfo=UTC)  # 10:00 in China
    due = CAL.add_working_time(start, 4 * H)
    assert due == at(2024, 6, 3, 16)
    assert due.tzinfo is UTC


def test_working_time_between() -> None:
    assert CAL.working_time_between(at(2024, 6, 3, 10), at(2024, 6, 3, 16)) == 4 * H
    assert CAL.working_time_between(at(2024, 6, 7, 17), at(2024, 6, 11, 9)) == timedelta(minutes=60)
    assert CAL.working_time_between(at(2024, 6, 3, 16), at(2024, 6, 3, 10)) == timedelta()


def test_errors() -> None:
    with pytest.raises(CalendarError, match="timezone"):
        CAL.add_working_time(datetime(2024, 6, 3, 10), H)
    with pytest.raises(CalendarError, match="negative"):
        CAL.add_working_time(at(2024, 6, 3), -H)
    with pytest.raises(CalendarError, match="overlap"):
        WorkingCalendar(periods=((time(8), time(12)), (time(11), time(13))))
    with pytest.raises(CalendarError, match="no working time"):
        WorkingCalendar(weekdays=frozenset(), use_chinese_calendar=False).add_working_time(at(2024, 6, 3), H)
    with pytest.raises(CalendarError, match="unknown calendar keys"):
        WorkingCalendar.from_mapping({"hours": 3})
    with pytest.raises(CalendarError):
        WorkingCalendar.from_mapping({"periods": ["8:30"]})


def test_city_file_adds_later_years_and_overrides_hours() -> None:
    cal = WorkingCalendar.from_mapping({
        "periods": ["09:00-12:00", "13:30-17:00"],
        "holidays": ["2031-10-01", date(2031, 10, 2)],
        "workdays": ["2031-09-28"],  # a Sunday
        "weekdays": [1, 2, 3, 4, 5, 6],
        "utc_offset_hours": 8,
    })
    assert cal.day_length == timedelta(hours=6, minutes=30)
    assert not cal.is_working_day(date(2031, 10, 1))
    assert cal.is_working_day(date(2031, 9, 28))
    assert cal.is_working_day(date(2031, 10, 4))  # Saturday is a weekday here
    assert not CAL.is_working_day(date(2031, 10, 4))
    # The city file beats chinese-calendar too: a local day off in a known year.
    assert not WorkingCalendar(holidays=frozenset({date(2024, 6, 3)})).is_working_day(date(2024, 6, 3))
    assert WorkingCalendar(use_chinese_calendar=False).is_working_day(date(2024, 10, 1))


# --- limits ---------------------------------------------------------------------------------

def test_default_limits() -> None:
    lim = default_time_limits()
    assert lim.step(Step.FILE) == Limit(30, Unit.MINUTES)
    assert lim.step("accept") == Limit(10, Unit.MINUTES)
    assert lim.disposal("A") == Limit(2, Unit.NATURAL_HOURS)
    assert lim.disposal(DisposalClass.F) == Limit(20, Unit.DAYS)
    with pytest.raises(TimeLimitError):
        lim.step(Step.DISPOSE)


def test_deadlines_by_class() -> None:
    lim = default_time_limits()
    start = at(2024, 6, 7, 16)  # Friday 16:00
    assert deadline(start, lim.disposal("A"), CAL) == at(2024, 6, 7, 18)  # natural hours
    assert deadline(start, lim.disposal("B"), CAL) == at(2024, 6, 11, 11)  # 1.5 h Fri + 2.5 h Tue
    assert deadline(start, lim.disposal("C"), CAL) == at(2024, 6, 11, 16)
    assert deadline(start, lim.disposal("D"), CAL) == at(2024, 6, 13, 16)
    assert deadline(at(2024, 6, 3, 10), Limit(1, Unit.NATURAL_DAYS), CAL) == at(2024, 6, 4, 10)
    assert deadline(at(2024, 6, 3, 10), Limit(30, Unit.NATURAL_MINUTES), CAL) == at(2024, 6, 3, 10, 30)


def test_suspension_stops_the_clock() -> None:
    b = Limit(4, Unit.HOURS)
    start = at(2024, 6, 3, 9)
    assert deadline(start, b, CAL) == at(2024, 6, 3, 15)
    pause = (at(2024, 6, 3, 10), at(2024, 6, 3, 16))
    assert deadline(start, b, CAL, [pause]) == at(2024, 6, 4, 10)
    assert deadline(start, b, CAL, [(at(2024, 6, 3, 16), at(2024, 6, 3, 17))]) == at(2024, 6, 3, 15)  # after
    assert deadline(start, b, CAL, [(at(2024, 6, 1), at(2024, 6, 2))]) == at(2024, 6, 3, 15)  # before
    a = Limit(2, Unit.NATURAL_HOURS)
    assert deadline(start, a, CAL, [(at(2024, 6, 3, 10), at(2024, 6, 3, 10, 30))]) == at(2024, 6, 3, 11, 30)
    assert elapsed(start, at(2024, 6, 3, 17), b, CAL, [pause]) == 2 * H


def test_postpone_remaining_overdue_share() -> None:
    due = at(2024, 6, 3, 16)
    assert postpone(due, Limit(2, Unit.HOURS), CAL) == at(2024, 6, 4, 9)
    assert postpone(due, Limit(2, Unit.NATURAL_HOURS), CAL) == at(2024, 6, 3, 18)
    b = Limit(4, Unit.HOURS)
    assert remaining(due, at(2024, 6, 3, 11), b, CAL) == 3 * H
    assert remaining(due, at(2024, 6, 4, 9), b, CAL) == -2 * H
    assert not is_overdue(due, due)
    assert is_overdue(due, due + timedelta(seconds=1))
    assert share_used(at(2024, 6, 3, 10), at(2024, 6, 3, 14, 30), b, CAL) == pytest.approx(2.5 / 4)
    assert share_used(at(2024, 6, 3, 10), at(2024, 6, 3, 11), Limit(0, Unit.HOURS), CAL) == 1.0
    assert share_used(at(2024, 6, 3, 10), at(2024, 6, 3, 10), Limit(0, Unit.HOURS), CAL) == 0.0


@pytest.mark.parametrize(("share", "light"), [(0.0, Light.GREEN), (0.8, Light.GREEN), (0.81, Light.YELLOW),
                                              (1.0, Light.YELLOW), (1.01, Light.RED)])
def test_traffic_light(share: float, light: Light) -> None:
    assert default_time_limits().traffic_light(share) is light


def test_city_overrides_areas_and_categories() -> None:
    lim = default_time_limits().merged({
        "steps": {"check": {"amount": 120, "unit": "minutes"}},
        "areas": {"core": {"B": {"amount": 2, "unit": "hours"}}},
        "categories": {"E0102": {"amount": 1, "unit": "hours"}},
    })
    assert lim.step("check") == Limit(120, Unit.MINUTES)
    assert lim.step("file") == Limit(30, Unit.MINUTES)
    assert lim.disposal("B", area="core") == Limit(2, Unit.HOURS)
    assert lim.disposal("B", area="general") == Limit(4, Unit.HOURS)
    assert lim.disposal("B", category="E0102", area="core") == Limit(1, Unit.HOURS)
    start = at(2024, 6, 3, 10)
    assert disposal_deadline(start, lim, CAL, "B", area="core") == at(2024, 6, 3, 12)
    assert disposal_deadline(
        start, lim, CAL, "B", extensions=[Limit(2, Unit.HOURS), Limit(1, Unit.NATURAL_HOURS)]
    ) == at(2024, 6, 4, 10)


@pytest.mark.parametrize(
    "data",
    [{"disposal_classes": {"A": {"amount": 2, "unit": "hours"}}},  # B-F missing
     {"steps": {"lunch": {"amount": 1, "unit": "hours"}}, "disposal_classes": {}},
     {"colour": 1}],
)
def test_invalid_limit_data(data: dict) -> None:
    with pytest.raises(TimeLimitError):
        TimeLimits.from_mapping(data)


def test_limit_arithmetic() -> None:
    assert Limit(1, Unit.HOURS) + Limit(2, Unit.HOURS) == Limit(3, Unit.HOURS)
    with pytest.raises(TimeLimitError):
        Limit(1, Unit.HOURS) + Limit(1, Unit.DAYS)
    with pytest.raises(TimeLimitError):
        Limit(-1, Unit.HOURS)
    assert Limit(2, Unit.DAYS).duration(CAL) == timedelta(hours=14)


# --- properties ---------------------------------------------------------------------------

times = st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2026, 12, 20), timezones=st.just(CHINA_TZ))
minutes = st.integers(0, 7 * 60 * 25).map(lambda m: timedelta(minutes=m))
limits = st.builds(Limit, st.integers(0, 40), st.sampled_from(list(Unit)))


@settings(max_examples=150, deadline=None)
@given(times, times, minutes)
def test_monotonic_in_start(a: datetime, b: datetime, d: timedelta) -> None:
    a, b = min(a, b), max(a, b)
    assert CAL.add_working_time(a, d) <= CAL.add_working_time(b, d)


@settings(max_examples=150, deadline=None)
@given(times, minutes, minutes)
def test_monotonic_in_duration_and_consistent(s: datetime, d1: timedelta, d2: timedelta) -> None:
    d1, d2 = min(d1, d2), max(d1, d2)
    e1, e2 = CAL.add_working_time(s, d1), CAL.add_working_time(s, d2)
    assert s <= e1 <= e2
    assert CAL.working_time_between(s, e2) == d2


@settings(max_examples=150, deadline=None)
@given(times, minutes.filter(bool))
def test_deadlines_fall_in_working_time(s: datetime, d: timedelta) -> None:
    """Holiday-aware: a working-time deadline is never on a day off or outside the hours."""
    due = CAL.add_working_time(s, d)
    assert any(p_start < due <= p_end for p_start, p_end in CAL.working_periods(due.date()))


@settings(max_examples=150, deadline=None)
@given(times, limits, limits.filter(lambda x: x.amount > 0))
def test_postponement_never_shortens(s: datetime, limit: Limit, extension: Limit) -> None:
    due = deadline(s, limit, CAL)
    assert due >= s
    assert postpone(due, extension, CAL) > due


def test_a_resume_gives_back_the_time_left_at_suspension() -> None:
    b = Limit(4, Unit.HOURS)
    due = at(2024, 6, 3, 15)  # dispatched 09:00, four working hours
    assert after_suspension(due, at(2024, 6, 3, 10), at(2024, 6, 3, 16), b, CAL) == at(2024, 6, 4, 10)
    assert after_suspension(due, at(2024, 6, 3, 16), at(2024, 6, 4, 9), b, CAL) == due  # overdue before the stop
    a = Limit(2, Unit.NATURAL_HOURS)
    assert after_suspension(at(2024, 6, 3, 11), at(2024, 6, 3, 10), at(2024, 6, 3, 10, 30), a, CAL) \
        == at(2024, 6, 3, 11, 30)


@given(times, limits, times, st.integers(0, 72 * 60))
def test_resuming_a_stored_deadline_agrees_with_the_paused_deadline(s: datetime, limit: Limit, p: datetime,
                                                                  m: int) -> None:
    """The API keeps only the deadline; case facts recompute it from the history with the pause: same answer."""
    pause = (p, p + timedelta(minutes=m))
    if pause[0] < s:
        return  # a case is suspended after it was dispatched
    assert after_suspension(deadline(s, limit, CAL), *pause, limit, CAL) == deadline(s, limit, CAL, [pause])


@settings(max_examples=100, deadline=None)
@given(times, limits, times, st.integers(0, 72 * 60))
def test_a_pause_never_brings_the_deadline_forward(s: datetime, limit: Limit, p: datetime, m: int) -> None:
    pause = (p, p + timedelta(minutes=m))
    assert deadline(s, limit, CAL, [pause]) >= deadline(s, limit, CAL)


def _walked(cal: WorkingCalendar, start: datetime, end: datetime) -> timedelta:
    """Working time in [start, end) summed period by period, day by day: what working_time_between counts faster."""
    total, day = timedelta(), start.astimezone(cal.tz).date()
    while day <= end.astimezone(cal.tz).date():
        for s, e in cal.working_periods(day):
            if min(e, end) > max(s, start):
                total += min(e, end) - max(s, start)
        day += timedelta(days=1)
    return total


CITY_CAL = WorkingCalendar.from_mapping({"periods": ["09:00-12:00", "13:30-18:00"], "weekdays": [1, 2, 3, 4, 5, 6],
                                         "holidays": ["2025-12-31", "2026-01-02"], "workdays": ["2026-01-04"]})
spans = st.datetimes(min_value=datetime(2022, 6, 1), max_value=datetime(2028, 6, 1),
                     timezones=st.sampled_from([CHINA_TZ, UTC]))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([CAL, CITY_CAL]), spans, spans)
def test_working_time_between_equals_the_walk(cal: WorkingCalendar, a: datetime, b: datetime) -> None:
    """Across years, holidays, make-up days (in and beyond chinese-calendar's years) and zones."""
    assert cal.working_time_between(a, b) == (_walked(cal, a, b) if b > a else timedelta())
