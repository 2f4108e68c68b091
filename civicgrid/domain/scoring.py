"""Evaluation indicators and composite scores (CJ/T 292, docs/domain.md §6).

Pure functions over `CaseFacts` (see `case_facts.py`) for the cases of one period
(a case belongs to the period it was reported in [ours]; `in_period` selects them).
Every rate is a `Ratio` so a report can show numerator and denominator; what a rate
with nothing due counts for, the weights, count bands and grade bands are the city's
data (`scoring.yaml`, civicgrid/domain/scoring_rules.py, re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import date, datetime, timedelta

from civicgrid.domain.case_facts import CaseFacts
from civicgrid.domain.scoring_rules import (
    EXCLUDE,
    LOWER_IS_BETTER,
    CountBand,
    EmptyRate,
    Evaluation,
    GradeBand,
    Ratio,
    Scoring,
    ScoringError,
    ScoringFile,
    counted,
    default_scoring,
    rank,
)

# scoring_rules' names, re-exported (callers import every name of scoring from here; mypy needs them listed).
__all__ = ["EXCLUDE", "LOWER_IS_BETTER", "CountBand", "EmptyRate", "Evaluation", "GradeBand", "Ratio", "Scoring",
           "ScoringError", "ScoringFile", "counted", "default_scoring", "rank"]

Facts = Sequence[CaseFacts]


def in_period(facts: Iterable[CaseFacts], start: datetime, end: datetime) -> list[CaseFacts]:
    """Cases reported in [start, end)."""
    return [f for f in facts if start <= f.reported_at < end]


def xun_bounds(day: date) -> tuple[date, date]:
    """The 旬 (ten-day period) holding `day` as [first, last]: days 1–10, 11–20, 21–end of month."""
    if day.day <= 10:
        return day.replace(day=1), day.replace(day=10)
    if day.day <= 20:
        return day.replace(day=11), day.replace(day=20)
    next_month = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return day.replace(day=21), next_month - timedelta(days=1)


# --- post indicators (岗位) -----------------------------------------------------------

def valid_report_rate(facts: Facts, inspector: str | None = None) -> Ratio:
    """有效上报率 = valid reports / reports, over inspectors' reports;
    valid = filed and not cancelled, or self-handled."""
    mine = [f for f in facts if f.reporter_role == "inspector" and inspector in (None, f.reporter)]
    return Ratio(sum((f.filed and not f.cancelled) or f.self_handled for f in mine), len(mine))


def missed_rate(facts: Facts, cells: Collection[str]) -> Ratio:
    """漏报率 = missed / filed, over filed cases in the inspector's cells (grid and shift);
    missed = those that came from elsewhere than an inspector."""
    filed = [f for f in facts if f.filed and f.cell in cells]
    return Ratio(sum(f.source != "inspector" for f in filed), len(filed))


def on_time_verify_rate(facts: Facts, inspector: str | None = None) -> Ratio:
    """按时核实率 = on-time verifications / verifications due (sent to the inspector)."""
    due = [f for f in facts if f.verifier is not None and inspector in (None, f.verifier)]
    return Ratio(sum(bool(f.verified_on_time) for f in due), len(due))


def on_time_check_rate(facts: Facts, inspector: str | None = None) -> Ratio:
    """按时核查率 = on-time checks / checks due (each check counts, reworked or not)."""
    checks = [ok for f in facts for who, ok in f.checks if inspector in (None, who)]
    return Ratio(sum(checks), len(checks))


def on_time_verify_dispatch_rate(facts: Facts, operator: str | None = None) -> Ratio:
    """Operator: verify tasks sent within the accept limit / verify tasks sent."""
    sent = [f for f in facts if f.verify_sender is not None and operator in (None, f.verify_sender)]
    return Ratio(sum(bool(f.verify_sent_on_time) for f in sent), len(sent))


def on_time_check_dispatch_rate(facts: Facts, operator: str | None = None) -> Ratio:
    """Operator: check tasks sent within the accept limit / check tasks sent."""
    sent = [f for f in facts if f.check_sender is not None and operator in (None, f.check_sender)]
    return Ratio(sum(bool(f.check_sent_on_time) for f in sent), len(sent))


def on_time_filing_rate(facts: Facts, filer: str | None = None) -> Ratio:
    """按时立案率 = filed on time / filed."""
    filed = [f for f in facts if f.filed and filer in (None, f.filer)]
    return Ratio(sum(bool(f.filed_on_time) for f in filed), len(filed))


def accurate_filing_rate(facts: Facts, filer: str | None = None) -> Ratio:
    """准确立案率 = (filed − cancelled after filing) / filed."""
    filed = [f for f in facts if f.filed and filer in (None, f.filer)]
    return Ratio(len(filed) - sum(f.cancelled_after_filing for f in filed), len(filed))


def on_time_closing_rate(facts: Facts, closer: str | None = None) -> Ratio:
    """按时结案率 = closed on time (within the close limit after the check) / closed."""
    closed = [f for f in facts if f.closed and closer in (None, f.closer)]
    return Ratio(sum(bool(f.closed_on_time) for f in closed), len(closed))


def on_time_dispatch_rate(facts: Facts, dispatcher: str | None = None) -> Ratio:
    """按时派遣率 = dispatched on time / dispatches due (every dispatch, re-dispatch after return too)."""
    d = [ok for f in facts for who, ok in f.dispatchers if dispatcher in (None, who)]
    return Ratio(sum(d), len(d))


def accurate_dispatch_rate(facts: Facts, dispatcher: str | None = None) -> Ratio:
    """准确派遣率 = (dispatched − returned) / dispatches due.

    A return (回退) is charged to the dispatch it undid, i.e. the case's n-th dispatch
    for the n-th return."""
    total = returned = 0
    for f in facts:
        for n, (who, _) in enumerate(f.dispatchers):
            if dispatcher in (None, who):
                total += 1
                returned += n < f.returns
    return Ratio(total - returned, total)


# --- department and region indicators ------------------------------------------------

def _dept(facts: Facts, department: str | None) -> list[CaseFacts]:
    return [f for f in facts if f.dispatched and department in (None, f.department)]


def on_time_disposal_rate(facts: Facts, department: str | None = None) -> Ratio:
    """按时处置率 = disposed on time / due (cases dispatched to the department)."""
    due = _dept(facts, department)
    return Ratio(sum(f.disposed_on_time is True for f in due), len(due))


def rework_rate(facts: Facts, department: str | None = None) -> Ratio:
    """返工率 = reworked / disposed (each disposal feedback counts once)."""
    due = _dept(facts, department)
    return Ratio(sum(f.reworks for f in due), sum(f.disposals for f in due))


def closing_rate(facts: Facts, department: str | None = None) -> Ratio:
    """结案率 = closed / due to close (filed, not cancelled; a department's: dispatched to it)."""
    due = _dept(facts, department) if department else [f for f in facts if f.filed and not f.cancelled]
    return Ratio(sum(f.closed for f in due), len(due))


def closed_by_deadline_rate(facts: Facts) -> Ratio:
    """按期结案率 = closed with the disposal deadline kept / due to close."""
    due = [f for f in facts if f.filed and not f.cancelled]
    return Ratio(sum(f.closed and f.closed_by_deadline for f in due), len(due))


def public_report_rate(facts: Facts) -> Ratio:
    """监督举报率 = verified public (hotline) reports that were filed / filed."""
    filed = [f for f in facts if f.filed]
    return Ratio(sum(f.source == "hotline" and f.verified for f in filed), len(filed))


def in_region(facts: Iterable[CaseFacts], prefix: str = "", cells: Collection[str] | None = None) -> list[CaseFacts]:
    """Cases in a region: cell code starting with `prefix` (county 6, street 9, community 12
    digits), or in `cells` (a responsibility grid)."""
    return [
        f for f in facts
        if f.cell is not None and f.cell.startswith(prefix) and (cells is None or f.cell in cells)
    ]


# --- composites ----------------------------------------------------------------------

def evaluate_department(facts: Facts, department: str, scoring: Scoring | None = None) -> Evaluation:
    """部门评价: 10 % case-count score + 30 % closing rate + 30 % on-time disposal + 30 % (1 − rework)."""
    s = scoring or default_scoring()
    due = _dept(facts, department)
    ratios = {
        "closing_rate": closing_rate(facts, department),
        "on_time_disposal_rate": on_time_disposal_rate(facts, department),
        "rework_rate": rework_rate(facts, department),
    }
    return s.evaluation(department, "department", ratios, {"case_count_score": s.case_count_score(len(due)) / 100})


def evaluate_region(facts: Facts, region: str, *, cells: Collection[str] | None = None,
                    scoring: Scoring | None = None) -> Evaluation:
    """区域评价: 10 % public-report rate + 20 % case-count score + 30 % closing rate
    + 40 % closed-by-deadline rate, over the cases whose cell starts with `region`
    (or lies in `cells`, for a responsibility grid)."""
    s = scoring or default_scoring()
    mine = in_region(facts, "" if cells is not None else region, cells)
    ratios = {
        "public_report_rate": public_report_rate(mine),
        "closing_rate": closing_rate(mine),
        "closed_by_deadline_rate": closed_by_deadline_rate(mine),
    }
    count = sum(f.filed for f in mine)
    return s.evaluation(region, "region", ratios, {"case_count_score": s.case_count_score(count) / 100})


_POST_RATIOS: dict[str, dict[str, Callable[[Facts, str], Ratio]]] = {
    "inspector": {
        "valid_report_rate": valid_report_rate,
        "on_time_verify_rate": on_time_verify_rate,
        "on_time_check_rate": on_time_check_rate,
    },
    "operator": {
        "on_time_verify_dispatch_rate": on_time_verify_dispatch_rate,
        "on_time_check_dispatch_rate": on_time_check_dispatch_rate,
    },
    "shift_leader": {
        "on_time_filing_rate": on_time_filing_rate,
        "accurate_filing_rate": accurate_filing_rate,
        "on_time_closing_rate": on_time_closing_rate,
    },
    "dispatcher": {
        "on_time_dispatch_rate": on_time_dispatch_rate,
        "accurate_dispatch_rate": accurate_dispatch_rate,
    },
}


def evaluate_post(facts: Facts, role: str, actor: str, *, peers: Collection[str] = (),
                  cells: Collection[str] = (), scoring: Scoring | None = None) -> Evaluation:
    """岗位评价 of one person. Inspector = 40 % valid reports + 20 % (1 − missed, over `cells`)
    + 20 % on-time verify + 20 % on-time check; operator = 25 % count score + 40 % on-time
    verify dispatch + 35 % on-time check dispatch; shift leader = 25 % on-time filing + 40 %
    accurate filing + 35 % on-time closing; dispatcher = 20 % count score + 40 % on-time
    dispatch + 40 % accurate dispatch. Count score [ours] = 100 × own tasks / the most
    tasks among `peers` (the actor included)."""
    s = scoring or default_scoring()
    try:
        table = _POST_RATIOS[role]
    except KeyError:
        raise ScoringError(f"no post evaluation for role {role!r}") from None
    ratios = {name: fn(facts, actor) for name, fn in table.items()}
    extra: dict[str, float] = {}
    if role == "inspector":
        ratios["missed_rate"] = missed_rate(facts, cells)
    if role in ("operator", "dispatcher"):
        counts = {p: _task_count(facts, role, p) for p in {*peers, actor}}
        top = max(counts.values())
        extra["count_score"] = counts[actor] / top if top else 0.0
    return s.evaluation(actor, role, ratios, extra)


def _task_count(facts: Facts, role: str, actor: str) -> int:
    if role == "operator":
        return sum((f.verify_sender == actor) + (f.check_sender == actor) for f in facts)
    return sum(who == actor for f in facts for who, _ in f.dispatchers)

