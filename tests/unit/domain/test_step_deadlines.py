"""Each step's own clock (civicgrid/domain/step_deadlines.py): when it started, when it runs out on the working
calendar, when it ended — judged exactly as the evaluation judges it (civicgrid/domain/case_facts.py)."""

from __future__ import annotations

from datetime import timedelta

from civicgrid.domain.case_facts import case_facts
from civicgrid.domain.case_state import Source
from civicgrid.domain.step_deadlines import StepClock, step_clocks
from civicgrid.domain.time_limits import Light, Step, TimeLimits, default_time_limits
from civicgrid.domain.working_calendar import WorkingCalendar, default_calendar
from tests.unit.domain.test_domain_scoring import C0101, C0102, A, R, Script, scenario, t

LIMITS, CAL = default_time_limits(), default_calendar()


def _clocks(script: Script, now=None) -> list[StepClock]:
    return step_clocks(script.log, LIMITS, CAL, now or script.log[-1].at)


def _row(c: StepClock) -> tuple[str, object, object, object]:
    return c.step.value, c.started_at, c.deadline, c.ended_at


def test_a_hotline_case_has_a_clock_for_every_step_with_its_deadline_on_the_calendar() -> None:
    s = (Script("h", Source.HOTLINE, R.OPERATOR, "op", t(3, 11, 55), cell=C0102)  # Monday, 5 min before lunch
         .do(A.SEND_VERIFY, R.OPERATOR, "op", t(3, 14, 3))  # accept: 10 working minutes → 14:05
         .do(A.CONFIRM, R.INSPECTOR, "i", t(3, 14, 40))  # verify: 30 min → 14:33, late
         .do(A.FILE, R.SHIFT_LEADER, "sl", t(3, 17, 25), category="E0102")  # file: from the confirmation → 15:10
         .do(A.DISPATCH, R.DISPATCHER, "d", t(4, 8, 40), department="环卫处"))  # dispatch: 17:25 + 30 min → Tue 08:55
    clocks = _clocks(s, now=t(4, 9, 0))
    assert [_row(c) for c in clocks] == [
        ("accept", t(3, 11, 55), t(3, 14, 5), t(3, 14, 3)),
        ("verify", t(3, 14, 3), t(3, 14, 33), t(3, 14, 40)),
        ("file", t(3, 14, 40), t(3, 15, 10), t(3, 17, 25)),
        ("dispatch", t(3, 17, 25), t(4, 8, 55), t(4, 8, 40)),
    ]
    assert [c.on_time for c in clocks] == [True, False, False, True]
    # The filing clock that started at the report is not a step: a case sent to verify is filed after it.
    assert sum(c.step is Step.FILE for c in clocks) == 1


def test_a_running_step_shows_its_light_at_80_percent_and_past_the_limit() -> None:
    s = Script("r", Source.INSPECTOR, R.INSPECTOR, "i", t(3, 9, 0), cell=C0101)
    (accept, file) = _clocks(s, now=t(3, 9, 7))
    assert (accept.step, accept.deadline, accept.running) == (Step.ACCEPT, t(3, 9, 10), True)
    assert (file.step, file.deadline, file.on_time) == (Step.FILE, t(3, 9, 30), None)
    assert accept.light(t(3, 9, 7), LIMITS, CAL) is Light.GREEN  # 70 %
    assert accept.light(t(3, 9, 9), LIMITS, CAL) is Light.YELLOW  # 90 %
    assert accept.light(t(3, 9, 11), LIMITS, CAL) is Light.RED
    assert file.share_used(t(3, 9, 24), CAL) == 0.8


def test_a_suspension_stops_every_running_clock_and_the_end_of_the_case_ends_them() -> None:
    s = (Script("s", Source.INSPECTOR, R.INSPECTOR, "i", t(3, 9, 0), cell=C0101)
         .do(A.FILE, R.SHIFT_LEADER, "sl", t(3, 9, 10), category="E0102")
         .do(A.SUSPEND, R.SHIFT_LEADER, "sl", t(3, 9, 20), reason="funds"))
    dispatch = _clocks(s, now=t(3, 10, 0))[-1]
    assert dispatch.step is Step.DISPATCH and dispatch.running
    assert dispatch.deadline == t(3, 10, 20)  # 10 of 30 minutes used; the rest counts from now, as if resumed now
    s.do(A.RESUME, R.SHIFT_LEADER, "sl", t(3, 11, 0))
    assert _clocks(s, now=t(3, 11, 5))[-1].deadline == t(3, 11, 20)
    s.do(A.CANCEL, R.SHIFT_LEADER, "sl", t(3, 11, 10), reason="duplicate")
    clocks = _clocks(s)
    assert [(c.step, c.running, c.completed, c.on_time) for c in clocks] == [
        (Step.ACCEPT, False, True, True), (Step.FILE, False, True, True), (Step.DISPATCH, False, False, None)]


def test_round_the_clock_duty_counts_the_night() -> None:
    duty = WorkingCalendar.from_mapping({"round_the_clock": True})
    s = Script("n", Source.INSPECTOR, R.INSPECTOR, "i", t(3, 23, 50), cell=C0101)
    accept = step_clocks(s.log, LIMITS, duty, t(3, 23, 55))[0]
    assert accept.deadline == t(3, 23, 50) + timedelta(minutes=10)
    office = step_clocks(s.log, LIMITS, CAL, t(3, 23, 55))[0]
    assert office.deadline == t(4, 8, 40)  # the next working morning


def test_every_ended_step_is_judged_as_the_evaluation_judges_it() -> None:
    """The console shows what scoring will count: each ended clock's on_time is the fact case_facts writes."""
    log = scenario()
    by_case: dict[str, list] = {}
    for tr in log:
        by_case.setdefault(tr.case.id, []).append(tr)
    facts = {f.case_id: f for f in case_facts(log, LIMITS, CAL)}
    compared = 0
    for case_id, records in by_case.items():
        clocks = step_clocks(records, LIMITS, CAL, records[-1].at)
        f = facts[case_id]
        ended = {c.step: c for c in clocks if c.completed}
        if f.filed and Step.FILE in ended:
            assert ended[Step.FILE].on_time == f.filed_on_time, case_id
            compared += 1
        if f.verified_on_time is not None:
            assert ended[Step.VERIFY].on_time == f.verified_on_time, case_id
            compared += 1
        if f.verify_sent_on_time is not None:
            assert next(c for c in clocks if c.step is Step.ACCEPT).on_time == f.verify_sent_on_time, case_id
            compared += 1
        dispatches = [c.on_time for c in clocks if c.step is Step.DISPATCH and c.completed]
        assert dispatches == [ok for _, ok in f.dispatchers], case_id
        compared += len(dispatches)
        checks = [c.on_time for c in clocks if c.step is Step.CHECK and c.completed]
        assert checks == [ok for _, ok in f.checks], case_id
        compared += len(checks)
        if f.closed and not f.self_handled:
            assert ended[Step.CLOSE].on_time == f.closed_on_time, case_id
            compared += 1
    assert compared >= 12


def test_the_pack_s_limits_are_the_ones_used() -> None:
    limits = TimeLimits.from_mapping({**LIMITS.source, "steps": {**LIMITS.source["steps"],
                                                                  "accept": {"amount": 2, "unit": "natural_hours"}}})
    s = Script("p", Source.INSPECTOR, R.INSPECTOR, "i", t(3, 17, 0), cell=C0101)
    assert step_clocks(s.log, limits, CAL, t(3, 17, 1))[0].deadline == t(3, 19, 0)


def test_the_warning_falls_at_80_percent_of_the_time_to_the_deadline_on_the_calendar() -> None:
    """The deadline watch warns at `warn_at`: 8 of accept's 10 working minutes, across the lunch break; 96 of a
    class A disposal's 120 natural minutes; and a disposal deadline postponed by a day moves its warning along."""
    from civicgrid.domain.case_state import CaseState, State
    from civicgrid.domain.step_deadlines import disposal_clock
    from civicgrid.domain.time_limits import Limit, Unit

    s = Script("w", Source.HOTLINE, R.OPERATOR, "op", t(3, 11, 55), cell=C0102)
    (accept, _file) = _clocks(s, now=t(3, 11, 56))
    assert accept.step is Step.ACCEPT and accept.deadline == t(3, 14, 5)
    assert accept.warn_at(0.8, CAL) == t(3, 14, 3)  # 5 minutes before lunch, 3 after
    case = CaseState("c", State.DISPATCHED, Source.SENSOR, t(3, 9, 0), t(3, 9, 0), dispatched_at=t(3, 12, 0),
                     disposal_deadline=t(3, 14, 0))
    class_a = Limit(2, Unit.NATURAL_HOURS)
    clock = disposal_clock(case, class_a)
    assert clock is not None and clock.step is Step.DISPOSE and clock.warn_at(0.8, CAL) == t(3, 13, 36)
    hours_b = Limit(4, Unit.HOURS)  # 4 working hours from Monday 09:00 → 14:30; postponed a working day → Tue 14:30
    later = disposal_clock(CaseState("c", State.DISPOSING, Source.SENSOR, t(3, 9, 0), t(3, 9, 0),
                                     dispatched_at=t(3, 9, 0), disposal_deadline=t(4, 14, 30)), hours_b)
    assert later is not None and later.warn_at(0.8, CAL) == t(4, 10, 24)  # 0.8 × 10.5 working hours = 8.4 h
    disposed = CaseState("c", State.DISPOSED, Source.SENSOR, t(3, 9, 0), t(3, 9, 0), dispatched_at=t(3, 12, 0),
                         disposal_deadline=t(3, 14, 0), disposed_at=t(3, 13, 0))
    assert disposal_clock(disposed, class_a) is None  # the feedback ended disposal's clock
