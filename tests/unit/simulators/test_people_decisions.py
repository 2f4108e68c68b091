"""The simulated people's decisions, offline: pure functions of the scenario and a seeded generator."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from simulators.devices import SimClock, SimContext
from simulators.mobile import Handheld
from simulators.people.decisions import (
    CST,
    case_rng,
    check_passes,
    choose_department,
    disposal_plan,
    draw_minutes,
    due_at,
    duplicate_of,
    hurry_at,
    mine,
    next_on_duty,
    on_duty,
    responsible_department,
    returns_case,
    verification_confirms,
)
from simulators.people.provision import wanted_accounts
from simulators.people.scenario import Delay, PeopleScenario, Shift, load_scenario
from simulators.scenario import today_start

DEPARTMENTS = ["sanitation", "water", "sewage", "power"]
OFFICE = Shift(hours=["08:00-12:00", "14:00-18:00"], days=["mon", "tue", "wed", "thu", "fri"])


def _local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


def test_delays_follow_their_median_and_p90() -> None:
    rng = case_rng(1, "operator", "c", "x")
    draws = sorted(draw_minutes(Delay(median=20, p90=60), rng) for _ in range(20_000))
    assert statistics.median(draws) == pytest.approx(20, rel=0.05)
    assert draws[int(0.9 * len(draws))] == pytest.approx(60, rel=0.08)
    assert draw_minutes(Delay(median=5, p90=5), rng) == 5


def test_dispatcher_errs_at_the_scenario_rate_and_follows_the_table_after_a_return() -> None:
    choices = [choose_department("sanitation", DEPARTMENTS, [], 0.1, case_rng(7, "dispatcher", f"case-{i}", "d0"))
               for i in range(5_000)]
    wrong = [c for c in choices if c is not None and c.wrong]
    assert len(wrong) / len(choices) == pytest.approx(0.1, abs=0.015)
    assert all(c.department != "sanitation" for c in wrong)
    assert all(c.department == "sanitation" for c in choices if c is not None and not c.wrong)
    # After a return the dispatcher never errs again; the same case and step give the same choice.
    for i in range(500):
        again = choose_department("sanitation", DEPARTMENTS, ["water"], 1.0, case_rng(7, "dispatcher", str(i), "d1"))
        assert again is not None and (again.department, again.wrong) == ("sanitation", False)
    first = choose_department("water", DEPARTMENTS, [], 0.5, case_rng(7, "dispatcher", "same", "d0"))
    assert first == choose_department("water", DEPARTMENTS, [], 0.5, case_rng(7, "dispatcher", "same", "d0"))
    # No suggestion: the scenario's default department; nobody at all: no dispatch.
    default = choose_department(None, DEPARTMENTS, [], 0.0, case_rng(1, "d", "c", "s"), default="sewage")
    assert default is not None and default.department == "sewage"
    assert choose_department(None, [], [], 0.0, case_rng(1, "d", "c", "s")) is None


def test_working_hours() -> None:
    monday = _local(2026, 11, 23, 9, 0)
    assert on_duty(monday, OFFICE) and not on_duty(_local(2026, 11, 23, 12, 30), OFFICE)
    assert next_on_duty(_local(2026, 11, 23, 12, 30), OFFICE) == _local(2026, 11, 23, 14, 0)
    assert next_on_duty(_local(2026, 11, 23, 18, 0), OFFICE) == _local(2026, 11, 24, 8, 0)
    assert next_on_duty(_local(2026, 11, 27, 19, 0), OFFICE) == _local(2026, 11, 30, 8, 0)  # Friday → Monday
    assert next_on_duty(monday, OFFICE) == monday
    # Noticed at lunch, 30 minutes of work: done at 14:30; work that runs past 18:00 waits for the morning.
    assert due_at(_local(2026, 11, 23, 12, 30), 30, OFFICE) == _local(2026, 11, 23, 14, 30)
    assert due_at(_local(2026, 11, 23, 17, 50), 30, OFFICE) == _local(2026, 11, 24, 8, 0)
    assert on_duty(_local(2026, 11, 29, 3, 0), Shift())  # the default shift: always
    with pytest.raises(ValidationError, match="ends before it starts"):
        Shift(hours=["18:00-08:00"])


def test_responsibility_table_and_returns() -> None:
    rules = [{"category_code": "E01", "grid_prefix": "", "department_id": "sanitation"},
             {"category_code": "E0102", "grid_prefix": "", "department_id": "cleaning"},
             {"category_code": "E0102", "grid_prefix": "341523002", "department_id": "street2"}]
    assert responsible_department("E0104", "34152300100101", rules) == "sanitation"
    assert responsible_department("E0102", "34152300100101", rules) == "cleaning"  # exact before major
    assert responsible_department("E0102", "34152300200101", rules) == "street2"  # longest prefix first
    assert responsible_department("E0505", None, rules, "cg-bureau") == "cg-bureau"
    assert returns_case("sanitation", "cleaning") and not returns_case("cleaning", "cleaning")
    assert not returns_case("cleaning", None)


def test_checks_fail_at_the_rate_and_at_most_max_reworks_times() -> None:
    passes = [check_passes(case_rng(2, "inspector", str(i), "check0"), 0.2, 0, 2) for i in range(5_000)]
    assert passes.count(False) / len(passes) == pytest.approx(0.2, abs=0.02)
    assert all(check_passes(case_rng(2, "inspector", str(i), "check2"), 1.0, 2, 2) for i in range(100))
    confirmed = [verification_confirms(case_rng(2, "inspector", str(i), "verify"), 0.05) for i in range(5_000)]
    assert confirmed.count(False) / len(confirmed) == pytest.approx(0.05, abs=0.01)


def test_disposal_lateness_and_postponement_rates() -> None:
    handling = load_scenario().departments.for_department("sewage")
    plans = [disposal_plan(handling, case_rng(1, "department", str(i), "dispose0-0")) for i in range(5_000)]
    assert sum(p.late for p in plans) / len(plans) == pytest.approx(handling.late_rate, abs=0.02)
    assert sum(p.postpone for p in plans) / len(plans) == pytest.approx(handling.postpone_rate, abs=0.015)
    deadline = datetime(2026, 11, 24, 6, tzinfo=UTC)
    assert hurry_at(deadline, deadline - timedelta(hours=10)) == deadline - timedelta(minutes=30)
    assert hurry_at(deadline, deadline - timedelta(minutes=10)) == deadline - timedelta(minutes=2)


def test_a_second_call_about_the_same_problem_is_a_repeat() -> None:
    first = {"id": "a", "state": "verifying", "grid_cell_code": "34152300100101", "category_code": "E0102",
             "reported_at": "2026-11-24T01:00:00+00:00", "case_no": "N1"}
    second = {**first, "id": "b", "state": "reported", "reported_at": "2026-11-24T02:00:00+00:00"}
    assert duplicate_of(second, [first, second]) == first
    assert duplicate_of(first, [first, second]) is None  # the earlier call is the original
    assert duplicate_of(second, [{**first, "state": "closed"}]) is None
    assert duplicate_of(second, [{**first, "category_code": "E0505"}]) is None
    assert duplicate_of({**second, "grid_cell_code": None}, [first]) is None


def test_colleagues_split_the_work() -> None:
    ids = [f"{i:08x}-0000-0000-0000-000000000000" for i in range(100)]
    shares = [[c for c in ids if mine(c, k, 3)] for k in range(3)]
    assert sum(len(s) for s in shares) == 100 and all(shares)


def test_scenario_file_and_accounts() -> None:
    scenario = load_scenario()
    assert scenario.departments.for_department("gas").late_rate == 0.0
    assert scenario.departments.for_department("water").late_rate == scenario.departments.late_rate
    with pytest.raises(ValidationError, match="wrong_rate"):
        PeopleScenario.model_validate({"dispatchers": {"wrong_rate": 0.1}})
    accounts = wanted_accounts(scenario, ["water", "cg-bureau"], ["RG01"])
    names = [a[0] for a in accounts]
    assert len(names) == len(set(names))
    assert ("sim-dept-cg-bureau", "department", "cg-bureau", "") in accounts
    assert ("sim-inspector-rg01", "inspector", "", "RG01") in accounts
    assert ("sim-12319", "operator", "", "") in accounts


def test_catching_up_clock_places_the_day_on_today_and_never_runs_ahead() -> None:
    now = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)  # 14:00 in Beijing
    assert today_start(now) == datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # 07:30 today
    assert today_start(datetime(2026, 11, 23, 22, 0, tzinfo=UTC)) == datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    clock = SimClock(datetime.now(UTC) - timedelta(hours=6), 3600.0, catch_up=True)
    clock.t0 -= 60  # a minute at 3600×: sixty hours, far past the present
    assert clock.now() <= datetime.now(UTC) and clock.caught_up() and clock.wall(30) == 30
    fresh = SimClock(datetime.now(UTC) - timedelta(hours=6), 60.0, catch_up=True)
    assert not fresh.caught_up() and fresh.wall(60) == 1


def test_handheld_answers_at_the_scenarios_rates() -> None:
    spec = {"id": "hh-1", "kind": "handheld", "route": [[116.94, 31.46], [116.941, 31.46]]}
    ctx = SimContext("localhost", 1883, SimClock(datetime(2026, 11, 23, 23, 30, tzinfo=UTC), 60), seed=1)
    plain = Handheld(spec, "secret", ctx)
    state = plain.rng.getstate()
    assert plain.task_result("check") and plain.rng.getstate() == state  # no draw without a rate
    ctx.check_fail_rate = 1.0
    assert not Handheld(spec, "secret", ctx).task_result("check")
    ctx.refute_rate, ctx.check_fail_rate = 0.3, 0.0
    hh = Handheld(spec, "secret", ctx)
    found = [hh.task_result("verify") for _ in range(2_000)]
    assert found.count(False) / len(found) == pytest.approx(0.3, abs=0.04)
