"""Evaluation (CJ/T 292): facts from event records, indicators and composites by hand."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from civicgrid.cases.pack import shipped_pack
from civicgrid.domain.case_facts import CaseFacts, case_facts
from civicgrid.domain.case_state import Action, CaseState, Command, Role, Source, Transition
from civicgrid.domain.catalogue import Catalogue
from civicgrid.domain.lifecycle import apply, open_case
from civicgrid.domain.scoring import (
    Ratio,
    Scoring,
    ScoringError,
    accurate_dispatch_rate,
    accurate_filing_rate,
    closed_by_deadline_rate,
    closing_rate,
    counted,
    default_scoring,
    evaluate_department,
    evaluate_post,
    evaluate_region,
    in_period,
    in_region,
    missed_rate,
    on_time_check_dispatch_rate,
    on_time_check_rate,
    on_time_closing_rate,
    on_time_dispatch_rate,
    on_time_disposal_rate,
    on_time_filing_rate,
    on_time_verify_dispatch_rate,
    on_time_verify_rate,
    public_report_rate,
    rank,
    rework_rate,
    valid_report_rate,
    xun_bounds,
)
from civicgrid.domain.time_limits import Limit, TimeLimits, Unit, default_time_limits
from civicgrid.domain.working_calendar import CHINA_TZ, default_calendar

A, R = Action, Role
C0101, C0102, C0201 = "34152300100101", "34152300100102", "34152300100201"


def t(day: int, hh: int, mm: int) -> datetime:
    return datetime(2024, 6, day, hh, mm, tzinfo=CHINA_TZ)  # 3 June 2024 is a Monday


class Script:
    """Drives one case through the lifecycle, collecting its transitions."""

    def __init__(self, case_id: str, source: Source, role: Role, actor: str, at: datetime, *, cell: str) -> None:
        first = open_case(case_id, source, Command(A.REPORT, role, actor, {"cell": cell}), at)
        self.case: CaseState = first.case
        self.log: list[Transition] = [first]

    def do(self, action: Action, role: Role, actor: str, at: datetime, **data: object) -> Script:
        tr = apply(self.case, Command(action, role, actor, data), at)
        self.case = tr.case
        self.log.append(tr)
        return self


def scenario() -> list[Transition]:
    # 1: inspector report, everything on time (E0102 is class B: 4 working hours).
    c1 = (Script("c1", Source.INSPECTOR, R.INSPECTOR, "insp-a", t(3, 9, 0), cell=C0101)
          .do(A.FILE, R.SHIFT_LEADER, "sl-1", t(3, 9, 20), category="E0102")
          .do(A.DISPATCH, R.DISPATCHER, "disp-x", t(3, 9, 40), department="环卫处")
          .do(A.SIGN, R.DEPARTMENT, "hw", t(3, 9, 50))
          .do(A.DISPOSE, R.DEPARTMENT, "hw", t(3, 11, 0), note="cleared")
          .do(A.SEND_CHECK, R.OPERATOR, "op-1", t(3, 11, 5))
          .do(A.CHECK_PASS, R.INSPECTOR, "insp-a", t(3, 11, 20))
          .do(A.CLOSE, R.SHIFT_LEADER, "sl-1", t(3, 11, 40)))
    # 2: hotline report: late verify task, late filing, a return, a late disposal and a rework.
    c2 = (Script("c2", Source.HOTLINE, R.OPERATOR, "op-1", t(3, 9, 0), cell=C0102)
          .do(A.SEND_VERIFY, R.OPERATOR, "op-1", t(3, 9, 30))  # due 09:10
          .do(A.CONFIRM, R.INSPECTOR, "insp-a", t(3, 9, 50))  # due 10:00
          .do(A.FILE, R.SHIFT_LEADER, "sl-1", t(3, 10, 30), category="E0102")  # due 10:20
          .do(A.DISPATCH, R.DISPATCHER, "disp-x", t(3, 10, 40), department="园林处")
          .do(A.REQUEST_RETURN, R.DEPARTMENT, "yl", t(3, 10, 50), reason="not ours")
          .do(A.APPROVE_RETURN, R.DISPATCHER, "disp-x", t(3, 11, 0))
          .do(A.DISPATCH, R.DISPATCHER, "disp-x", t(3, 11, 10), department="环卫处")  # due 11:30
          .do(A.SIGN, R.DEPARTMENT, "hw", t(3, 11, 20))
          .do(A.DISPOSE, R.DEPARTMENT, "hw", t(4, 10, 0), note="done")  # due Mon 17:10: late
          .do(A.SEND_CHECK, R.OPERATOR, "op-1", t(4, 10, 5))
          .do(A.CHECK_FAIL, R.INSPECTOR, "insp-a", t(4, 10, 20), reason="still there")
          .do(A.SIGN, R.DEPARTMENT, "hw", t(4, 10, 30))
          .do(A.DISPOSE, R.DEPARTMENT, "hw", t(4, 11, 0), note="done")  # due 16:20: on time
          .do(A.SEND_CHECK, R.OPERATOR, "op-1", t(4, 11, 5))
          .do(A.CHECK_PASS, R.INSPECTOR, "insp-b", t(4, 11, 50))  # due 11:35: late
          .do(A.CLOSE, R.SHIFT_LEADER, "sl-1", t(4, 12, 0)))  # due 14:20
    # 3: filed, then cancelled.
    c3 = (Script("c3", Source.INSPECTOR, R.INSPECTOR, "insp-a", t(3, 9, 0), cell=C0201)
          .do(A.FILE, R.SHIFT_LEADER, "sl-2", t(3, 9, 10), category="E0102")
          .do(A.CANCEL, R.SHIFT_LEADER, "sl-2", t(3, 9, 20), reason="duplicate"))
    # 4: self-handled on the spot.
    c4 = (Script("c4", Source.INSPECTOR, R.INSPECTOR, "insp-b", t(3, 9, 0), cell=C0101)
          .do(A.SELF_HANDLE, R.INSPECTOR, "insp-b", t(3, 9, 5), note="picked up"))
    # 5: camera capture, dispatched late, still open.
    c5 = (Script("c5", Source.CAMERA, R.OPERATOR, "op-2", t(3, 9, 0), cell=C0101)
          .do(A.FILE, R.SHIFT_LEADER, "sl-1", t(3, 9, 15), category="E0102")
          .do(A.DISPATCH, R.DISPATCHER, "disp-y", t(3, 10, 0), department="环卫处")  # due 09:45
          .do(A.SIGN, R.DEPARTMENT, "hw", t(3, 10, 10)))
    return [tr for s in (c1, c2, c3, c4, c5) for tr in s.log]


@pytest.fixture(scope="module")
def facts() -> list[CaseFacts]:
    return case_facts(scenario(), default_time_limits(), default_calendar())


def test_facts_from_records_equal_facts_from_transitions(facts: list[CaseFacts]) -> None:
    records = [tr.record() for tr in reversed(scenario())]  # order does not matter
    assert case_facts(records, default_time_limits(), default_calendar()) == facts


def test_facts(facts: list[CaseFacts]) -> None:
    f1, f2, f3, f4, f5 = facts
    assert (f1.filed_on_time, f1.dispatchers, f1.disposed_on_time, f1.closed_on_time, f1.close_type) == (
        True, [("disp-x", True)], True, True, "normal")
    assert (f2.verify_sent_on_time, f2.verified_on_time, f2.filed_on_time) == (False, True, False)
    assert f2.dispatchers == [("disp-x", True), ("disp-x", True)]
    assert (f2.returns, f2.disposals, f2.reworks, f2.disposed_on_time) == (1, 2, 1, True)
    assert f2.checks == [("insp-a", True), ("insp-b", False)]
    assert (f3.cancelled, f3.cancelled_after_filing, f3.filed_on_time) == (True, True, True)
    assert (f4.self_handled, f4.closed, f4.closed_by_deadline, f4.filed) == (True, True, True, False)
    assert (f5.dispatchers, f5.disposed_on_time, f5.closed) == ([("disp-y", False)], None, False)


def test_indicators_by_hand(facts: list[CaseFacts]) -> None:
    assert valid_report_rate(facts) == Ratio(2, 3)  # c1 and c4 valid, c3 cancelled
    assert valid_report_rate(facts, "insp-a") == Ratio(1, 2)
    assert missed_rate(facts, {C0101}) == Ratio(1, 2)  # c5 (camera) of c1, c5
    assert on_time_verify_rate(facts, "insp-a") == Ratio(1, 1)
    assert on_time_check_rate(facts, "insp-a") == Ratio(2, 2)
    assert on_time_check_rate(facts, "insp-b") == Ratio(0, 1)
    assert on_time_verify_dispatch_rate(facts, "op-1") == Ratio(0, 1)
    assert on_time_check_dispatch_rate(facts, "op-1") == Ratio(2, 2)
    assert on_time_filing_rate(facts) == Ratio(3, 4)  # c2 late
    assert accurate_filing_rate(facts) == Ratio(3, 4)  # c3 cancelled
    assert on_time_closing_rate(facts) == Ratio(3, 3)
    assert on_time_dispatch_rate(facts) == Ratio(3, 4)  # c5 late
    assert accurate_dispatch_rate(facts, "disp-x") == Ratio(2, 3)  # c2's first dispatch returned
    assert on_time_disposal_rate(facts, "环卫处") == Ratio(2, 3)  # c1, c2 of c1, c2, c5
    assert rework_rate(facts, "环卫处") == Ratio(1, 3)
    assert closing_rate(facts, "环卫处") == Ratio(2, 3)
    assert closing_rate(facts) == Ratio(2, 3)  # c1, c2 of filed-not-cancelled c1, c2, c5
    assert closed_by_deadline_rate(facts) == Ratio(2, 3)
    assert public_report_rate(facts) == Ratio(1, 4)  # c2 of the 4 filed
    assert Ratio(0, 0).value() == 1.0 and Ratio(0, 0).value(empty=0.0) == 0.0


def test_post_composites_by_hand(facts: list[CaseFacts]) -> None:
    # inspector = 40 % valid (1/2) + 20 % (1 − missed 2/3) + 20 % verify (1) + 20 % check (1)
    e = evaluate_post(facts, "inspector", "insp-a", cells={C0101, C0102})
    assert e.score == pytest.approx(100 * (0.4 * 0.5 + 0.2 / 3 + 0.2 + 0.2)) == pytest.approx(66.666667)
    assert e.grade == "C"
    # operator = 25 % count (3 of max 3) + 40 % verify dispatch (0/1) + 35 % check dispatch (2/2)
    e = evaluate_post(facts, "operator", "op-1", peers=["op-2"])
    assert (e.score, e.grade) == (60.0, "C")
    # shift leader = 25 % on-time filing (c1, c5 of c1, c2, c5: 2/3) + 40 % accurate (3/3)
    # + 35 % on-time closing (2/2)
    e = evaluate_post(facts, "shift_leader", "sl-1")
    assert e.score == pytest.approx(100 * (0.25 * 2 / 3 + 0.4 + 0.35)) == pytest.approx(91.666667)
    assert e.grade == "A"
    e2 = evaluate_post(facts, "shift_leader", "sl-2")  # 25 % × 1 + 40 % × 0 + 35 % × (0/0 → 1)
    assert (e2.score, e2.grade) == (60.0, "C")
    # dispatcher = 20 % count (3 of 3) + 40 % on time (3/3) + 40 % accurate (2/3)
    e = evaluate_post(facts, "dispatcher", "disp-x", peers=["disp-y"])
    assert e.score == pytest.approx(86.666667)
    assert e.grade == "B"
    e = evaluate_post(facts, "dispatcher", "disp-y", peers=["disp-x"])  # 20 % × 1/3 + 0 + 40 % × 1
    assert e.score == pytest.approx(46.666667)
    assert e.grade == "D"
    with pytest.raises(ScoringError):
        evaluate_post(facts, "department", "x")


def test_department_and_region_composites_by_hand(facts: list[CaseFacts]) -> None:
    # department = 10 % count score (3 cases → 100) + 30 % closing (2/3) + 30 % on-time (2/3) + 30 % (1 − 1/3)
    e = evaluate_department(facts, "环卫处")
    assert (e.score, e.grade) == (70.0, "C")
    assert e.ratios["rework_rate"] == Ratio(1, 3)
    # nothing due: every rate 0/0 → full marks, and 1 − rework is full marks too
    assert evaluate_department(facts, "园林处").score == 100.0
    # region = 10 % public reports (1/3) + 20 % count (3 → 100) + 30 % closing (2/3) + 40 % by deadline (2/3)
    e = evaluate_region(facts, "341523001001")
    assert (e.score, e.grade) == (70.0, "C")
    grid = evaluate_region(facts, "G1", cells={C0201})  # c3 only: filed then cancelled
    # Nothing due to close: shown as nothing ("—"), counted as the pack's empty_rate (1.0 shipped).
    assert grid.indicators["closing_rate"] is None and grid.counted["closing_rate"] == 1.0 and grid.subject == "G1"
    assert [f.case_id for f in in_region(facts, "341523001002")] == ["c3"]


def test_rank_and_grades(facts: list[CaseFacts]) -> None:
    evals = [evaluate_post(facts, "shift_leader", a) for a in ("sl-2", "sl-1")]
    evals.append(evaluate_post(facts, "operator", "op-1"))
    assert [(r, e.subject) for r, e in rank(evals)] == [(1, "sl-1"), (2, "op-1"), (2, "sl-2")]
    assert [e.score for _, e in rank(evals)] == [pytest.approx(91.666667), 60.0, 60.0]
    s = default_scoring()
    assert [s.grade(x) for x in (100, 90, 89.99, 75, 60, 40, 39.9, 0)] == ["A", "A", "B", "B", "C", "D", "E", "E"]


@pytest.mark.parametrize(("count", "score"), [(0, 100), (50, 100), (51, 90), (100, 90), (200, 75), (500, 60),
                                              (1000, 40), (1001, 0)])
def test_case_count_score(count: int, score: float) -> None:
    assert default_scoring().case_count_score(count) == score


def test_weights_are_data() -> None:
    s = default_scoring()
    assert s is default_scoring()
    city = s.merged({"composites": {"department": {"closing_rate": 0.5, "on_time_disposal_rate": 0.5}}})
    assert city.composite("department", {"closing_rate": 1.0, "on_time_disposal_rate": 0.5}) == 75.0
    assert city.composites["region"] == s.composites["region"]
    with pytest.raises(ScoringError, match="not computed"):
        s.composite("department", {})
    with pytest.raises(ScoringError, match="no weights"):
        s.composite("planet", {})
    with pytest.raises(ScoringError):
        Scoring.from_mapping({"composites": {}})
    assert Scoring((), ((None, 5.0),), (("X", 0.0),)).case_count_score(10**9) == 5.0
    assert Scoring({}, ((1, 5.0),), (("X", 50.0),)).case_count_score(2) == 0.0
    assert Scoring({}, ((1, 5.0),), (("X", 50.0),)).grade(10) == "X"


def test_periods(facts: list[CaseFacts]) -> None:
    assert xun_bounds(date(2024, 2, 5)) == (date(2024, 2, 1), date(2024, 2, 10))
    assert xun_bounds(date(2024, 2, 11)) == (date(2024, 2, 11), date(2024, 2, 20))
    assert xun_bounds(date(2024, 2, 29)) == (date(2024, 2, 21), date(2024, 2, 29))
    assert xun_bounds(date(2023, 12, 31)) == (date(2023, 12, 21), date(2023, 12, 31))
    assert len(in_period(facts, t(3, 0, 0), t(4, 0, 0))) == 5
    assert in_period(facts, t(4, 0, 0), t(5, 0, 0)) == []


def test_postponement_and_suspension_in_facts() -> None:
    s = (Script("p", Source.INSPECTOR, R.INSPECTOR, "i", t(3, 9, 0), cell=C0101)
         .do(A.FILE, R.SHIFT_LEADER, "sl", t(3, 9, 10), category="E0102")
         .do(A.DISPATCH, R.DISPATCHER, "d", t(3, 9, 20), department="环卫处")  # B: due 14:50
         .do(A.SIGN, R.DEPARTMENT, "hw", t(3, 9, 30))
         .do(A.REQUEST_POSTPONE, R.DEPARTMENT, "hw", t(3, 10, 0), extension=Limit(1, Unit.HOURS), reason="r")
         .do(A.APPROVE_POSTPONE, R.DISPATCHER, "d", t(3, 10, 10))  # due 15:50
         .do(A.SUSPEND, R.SHIFT_LEADER, "sl", t(3, 10, 20), reason="funds")
         .do(A.RESUME, R.SHIFT_LEADER, "sl", t(3, 11, 20))  # 1 h paused: due 16:50
         .do(A.DISPOSE, R.DEPARTMENT, "hw", t(3, 16, 45), note="ok"))
    (f,) = case_facts(s.log, default_time_limits(), default_calendar())
    assert f.disposed_on_time is True
    late = s.do(A.SEND_CHECK, R.OPERATOR, "o", t(3, 16, 50)).do(A.CHECK_FAIL, R.INSPECTOR, "i", t(3, 17, 0),
                                                                reason="no")
    late.do(A.SIGN, R.DEPARTMENT, "hw", t(3, 17, 5)).do(A.DISPOSE, R.DEPARTMENT, "hw", t(4, 14, 0), note="x")
    (f,) = case_facts(late.log, default_time_limits(), default_calendar())
    assert (f.reworks, f.disposed_on_time) == (1, False)  # rework at 17:00: due Tue 11:30


def test_evaluation_from_ratios() -> None:
    e = default_scoring().evaluation(
        "G1", "region",
        {"public_report_rate": Ratio(1, 4), "closing_rate": Ratio(3, 4), "closed_by_deadline_rate": Ratio(0, 0)},
        {"case_count_score": 0.9},
    )
    # 100 × (0.1 × 0.25 + 0.2 × 0.9 + 0.3 × 0.75 + 0.4 × 1.0)
    assert e.score == pytest.approx(83.0)
    assert (e.grade, e.level, e.indicators["closed_by_deadline_rate"]) == ("B", "region", None)
    assert e.counted["closed_by_deadline_rate"] == 1.0 and e.ratios["closed_by_deadline_rate"] == Ratio(0, 0)
    assert e.weights == default_scoring().composites["region"]


@pytest.mark.parametrize(("ratio", "empty_rate", "share", "counts"), [
    (Ratio(2, 4), 1.0, 0.5, 0.5),
    (Ratio(0, 3), 1.0, 0.0, 0.0),
    (Ratio(0, 0), 1.0, None, 1.0),      # nothing due: no value to show; counts as the pack says
    (Ratio(0, 0), 0.5, None, 0.5),
    (Ratio(0, 0), 0.0, None, 0.0),
    (Ratio(0, 0), "exclude", None, None),  # left out of the composite
    (Ratio(3, 4), "exclude", 0.75, 0.75),
])
def test_a_rate_with_nothing_due_has_no_value_and_counts_as_the_pack_says(
        ratio: Ratio, empty_rate: float | str, share: float | None, counts: float | None) -> None:
    assert ratio.share == share
    assert counted(ratio, empty_rate) == counts  # type: ignore[arg-type]


def test_a_rework_rate_with_nothing_disposed_is_not_shown_as_one() -> None:
    """The bug this fixes: 0 reworked of 0 disposed was shown as a rework rate of 1.000 (everything reworked)."""
    e = evaluate_department([], "园林处")
    assert e.ratios["rework_rate"] == Ratio(0, 0) and e.ratios["not_rework_rate"] == Ratio(0, 0)
    assert e.indicators["rework_rate"] is None and e.indicators["not_rework_rate"] is None
    assert e.counted["not_rework_rate"] == 1.0 and "rework_rate" not in e.counted  # only the complement is weighed
    assert e.score == 100.0 and e.grade == "A"


def test_excluded_rates_give_their_weight_to_the_rest(facts: list[CaseFacts]) -> None:
    s = default_scoring().merged({"empty_rate": "exclude"})
    e = s.evaluation("G1", "region", {"public_report_rate": Ratio(1, 4), "closing_rate": Ratio(3, 4),
                                      "closed_by_deadline_rate": Ratio(0, 0)}, {"case_count_score": 0.9})
    # 0.4 of closed-by-deadline is left out; 0.1, 0.2 and 0.3 are scaled by 1/0.6.
    assert e.weights == pytest.approx({"public_report_rate": 1 / 6, "case_count_score": 1 / 3, "closing_rate": 0.5})
    assert e.score == pytest.approx(100 * (0.25 / 6 + 0.9 / 3 + 0.75 / 2))
    assert "closed_by_deadline_rate" not in e.counted and e.indicators["closed_by_deadline_rate"] is None
    # An inspector with nothing at all due has nothing to score: no score, no grade, ranked last.
    idle = evaluate_post([], "inspector", "nobody", scoring=s)
    assert (idle.score, idle.grade, idle.weights) == (None, None, {})
    busy = evaluate_post(facts, "inspector", "insp-a", cells={C0101, C0102}, scoring=s)
    assert [e.subject for _, e in rank([idle, busy])] == ["insp-a", "nobody"]
    with pytest.raises(ScoringError):
        Scoring.from_mapping({**_file(s), "empty_rate": "skip"})


def _file(s: Scoring) -> dict[str, object]:
    return {"composites": dict(s.composites),
            "case_count_bands": [{"max": m, "score": v} for m, v in s.case_count_bands],
            "grades": [{"grade": g, "min": m} for g, m in s.grades]}


def test_disposal_is_judged_by_the_class_and_limit_of_the_cells_area_class() -> None:
    """Scoring counts a case in a core street by its class there (E0102: A, 2 clock hours, not B's 4 working
    hours) and a category's own limit there, as the deadline it was dispatched with was."""
    limits = TimeLimits.from_mapping({**default_time_limits().source, "area_cells": {"core": [C0101]},
                                      "area_categories": {"core": {"E0103": {"amount": 30, "unit": "minutes"}}}})
    catalogue = Catalogue.from_mapping({**shipped_pack().content["catalogue"],
                                        "area_classes": {"core": {"E0102": "A"}}})

    def disposed(cell: str, category: str, at: datetime) -> bool | None:
        s = (Script(f"a-{cell}-{category}", Source.INSPECTOR, R.INSPECTOR, "i", t(3, 9, 0), cell=cell)
             .do(A.FILE, R.SHIFT_LEADER, "sl", t(3, 9, 10), category=category)
             .do(A.DISPATCH, R.DISPATCHER, "d", t(3, 9, 20), department="环卫处")
             .do(A.SIGN, R.DEPARTMENT, "hw", t(3, 9, 30)).do(A.DISPOSE, R.DEPARTMENT, "hw", at, note="ok"))
        (f,) = case_facts(s.log, limits, default_calendar(), catalogue=catalogue)
        return f.disposed_on_time

    assert disposed(C0101, "E0102", t(3, 12, 0)) is False  # core: due 11:20
    assert disposed(C0201, "E0102", t(3, 12, 0)) is True  # general: due 15:20 (4 working hours, lunch between)
    assert disposed(C0101, "E0103", t(3, 10, 0)) is False  # core: its own 30 minutes, due 09:50
