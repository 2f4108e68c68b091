"""One `CaseFacts` per case, derived from its lifecycle event records, for scoring.

The evaluation indicators (CJ/T 292) count steps and whether each step kept its time
limit. This module walks each case's records (as `Transition.record()` writes them,
or `Transition` objects) once, with the city's limits and calendar, and writes down
who did what and whether on time; `scoring.py` only counts. Suspension pauses stop
every clock; approved postponements extend the disposal limit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from civicgrid.domain.case_state import Transition
from civicgrid.domain.catalogue import Catalogue, UnknownCategory, default_catalogue
from civicgrid.domain.time_limits import (
    DisposalClass,
    Limit,
    Step,
    TimeLimits,
    deadline,
    disposal_deadline,
)
from civicgrid.domain.working_calendar import WorkingCalendar


@dataclass(slots=True)
class CaseFacts:
    """What happened to one case, with on-time flags per step (None: step not reached)."""

    case_id: str
    source: str
    reported_at: datetime
    reporter: str
    reporter_role: str
    cell: str | None = None
    category: str | None = None
    # 核实 verify (sent by an operator, done by an inspector)
    verify_sender: str | None = None
    verify_sent_on_time: bool | None = None
    verifier: str | None = None
    verified_on_time: bool | None = None
    verified: bool = False
    # 立案 file
    filer: str | None = None
    filed: bool = False
    filed_on_time: bool | None = None
    cancelled: bool = False
    cancelled_after_filing: bool = False
    self_handled: bool = False
    # 派遣 dispatch (one entry per dispatch event)
    dispatchers: list[tuple[str, bool]] = field(default_factory=list)  # (actor, on time)
    returns: int = 0
    department: str | None = None
    # 处置 dispose
    disposals: int = 0
    disposed_on_time: bool | None = None  # the last disposal against its deadline
    reworks: int = 0
    # 核查 check
    check_sender: str | None = None
    check_sent_on_time: bool | None = None
    checks: list[tuple[str, bool]] = field(default_factory=list)  # (inspector, on time)
    # 结案 close
    closer: str | None = None
    closed: bool = False
    closed_on_time: bool | None = None
    closed_by_deadline: bool = False
    close_type: str | None = None

    @property
    def dispatched(self) -> bool:
        return bool(self.dispatchers)


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _limit(value: Any) -> Limit | None:
    return Limit.of(value) if isinstance(value, Limit | Mapping) else None


def case_facts(
    records: Iterable[Mapping[str, Any] | Transition],
    limits: TimeLimits,
    calendar: WorkingCalendar,
    *,
    catalogue: Catalogue | None = None,
) -> list[CaseFacts]:
    """Facts for every case in `records` (any order; grouped by case_id, ordered by seq)."""
    by_case: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in records:
        rec = r.record() if isinstance(r, Transition) else r
        by_case[rec["case_id"]].append(rec)
    cat = catalogue or default_catalogue()
    return [
        _Walker(sorted(by_case[case_id], key=lambda r: r["seq"]), limits, calendar, cat).run()
        for case_id in sorted(by_case)
    ]


class _Walker:
    """Replays one case's records; one `on_<action>` method per action that matters."""

    def __init__(self, events: list[Mapping[str, Any]], limits: TimeLimits, cal: WorkingCalendar,
                 cat: Catalogue) -> None:
        first = events[0]
        t0 = _time(first["at"])
        self.events, self.limits, self.cal, self.cat = events, limits, cal, cat
        self.facts = CaseFacts(
            first["case_id"], first["source"], t0, first["actor"], first["role"],
            cell=first.get("cell"), category=first.get("category"),
        )
        self.pauses: list[tuple[datetime, datetime]] = []
        self.suspended_at: datetime | None = None
        self.ready_to_file = t0  # when the case last became ready for filing
        self.filed_at = self.verify_sent = self.check_sent = self.passed_at = self.disposed_at = t0
        self.dispatch_start: datetime | None = None
        self.disposal_class: DisposalClass | None = None
        self.extensions: list[Limit] = []
        self.pending_extension: Limit | None = None

    def run(self) -> CaseFacts:
        for ev in self.events[1:]:
            if ev.get("cell"):
                self.facts.cell = ev["cell"]
            handler = getattr(self, f"on_{ev['action']}", None)
            if handler is not None:
                handler(ev["actor"], _time(ev["at"]), ev.get("data") or {})
            if ev["to_state"] == "cancelled":
                self.facts.cancelled = True
                self.facts.cancelled_after_filing = self.facts.filed
        return self.facts

    def on_time(self, start: datetime, step: Step, at: datetime) -> bool:
        return at <= deadline(start, self.limits.step(step), self.cal, self.pauses)

    def on_send_verify(self, actor: str, at: datetime, data: Mapping[str, Any]) -> None:
        self.verify_sent = at
        self.facts.verify_sender = actor
        self.facts.verify_sent_on_time = self.on_time(self.ready_to_file, Step.ACCEPT, at)

    def on_confirm(self, actor: str, at: datetime, data: Mapping[str, Any]) -> None:
        self.facts.verifier = actor
        self.facts.verified_on_time = self.on_time(self.verify_sent, Step.VERIFY, at)
        self.facts.verified = True
        self.ready_to_file = at

    def on_refute(self, actor: str, at: datetime, data: Mapping[str, Any]) -> None:
        self.on_confirm(actor, at, data)
        self.facts.verified = False

    def on_file(self, actor: str, at: datetime, data: Mapping[str, Any]) -> None:
        f = self.facts
        f.filer, f.filed, self.filed_at = actor, True, at
        f.filed_on_time = self.on_time(self.ready_to_file, Step.FILE, at)
        f.category = data.get("category", f.category)
        self.disposal_class = _class_of(data.get("disposal_class"), f.category, self.cat,
                                        self.limits.area_of(f.cell))

    def on_dispatch(self, actor: str, at: datetime, data: Mapping[str, Any]) -> None:
        self.facts.dispatchers.append((actor, self.on_time(self.filed_at, Step.DISPATCH, at)))
        self.facts.department = data.get("department")
        self.dispatch_start, self.extensions = at, []

    def on_approve_return(self, actor: str, at: datetime, data: Mapping[str, Any]) -> None:
        self.facts.returns += 1
        self.filed_at, self.dispatch_start = at, None

    def on_request_postpone(self, actor: str, at: datetime, data: Mapping[str, Any]) -> None:
        self.pending_extension = _limit(data.get("extension"))

    def on_approve_postpone(self, actor: str, at: datetime, data: Mapping[str, Any]) -> None:
        ext = _limit(data.get("extension")) or self.pending_extension
        if ext is not None:
            self.extensions.append(ext)

    def on_dispose(self, actor: str, at: datetime, data: Mapping[str, Any]) -> None:
        self.facts.disposals += 1
        self.disposed_at = at
        if self.dispatch_start is not None:
            due = disposal_deadline(
                self.dispatch_start, self.limits, self.cal, self.disposal_class or DisposalClass.C,
                category=self.facts.category, area=self.limits.area_of(self.facts.cell), extensions=self.extensions,
                pauses=self.pauses,
            )
            self.facts.disposed_on_time = at <= due

    def on_send_check(self, actor: str, at: datetime, data: Mapping[str, Any]) -> None:
        self.check_sent = at
        self.facts.check_sender = actor
        self.facts.check_sent_on_time = self.on_time(self.disposed_at, Step.ACCEPT, at)

    def on_check_pass(self, actor: str, at: datetime, data: Mapping[str, Any]) -> None:
        self.facts.checks.append((actor, self.on_time(self.check_sent, Step.CHECK, at)))
        self.passed_at = at

    def on_check_fail(self, actor: str, at: datetime, data: Mapping[str, Any]) -> None:
        self.facts.checks.append((actor, self.on_time(self.check_sent, Step.CHECK, at)))
        self.facts.reworks += 1
        self.dispatch_start, self.extensions = at, []

    def on_close(self, actor: str, at: datetime, data: Mapping[str, Any]) -> None:
        f = self.facts
        f.closer, f.closed = actor, True
        f.closed_on_time = self.on_time(self.passed_at, Step.CLOSE, at)
        f.closed_by_deadline = f.disposed_on_time is True
        f.close_type = data.get("close_type") or ("normal" if f.closed_by_deadline else "overdue")

    def on_self_handle(self, actor: str, at: datetime, data: Mapping[str, Any]) -> None:
        f = self.facts
        f.closer, f.closed, f.self_handled = actor, True, True
        f.closed_on_time = f.closed_by_deadline = True
        f.close_type = "normal"

    def on_suspend(self, actor: str, at: datetime, data: Mapping[str, Any]) -> None:
        self.suspended_at = at

    def on_resume(self, actor: str, at: datetime, data: Mapping[str, Any]) -> None:
        if self.suspended_at is not None:
            self.pauses.append((self.suspended_at, at))
        self.suspended_at = None


def _class_of(explicit: Any, category: str | None, cat: Catalogue, area: str | None) -> DisposalClass | None:
    if explicit:
        return DisposalClass(explicit)
    if category:
        try:
            return cat.disposal_class_in(category, area)
        except (UnknownCategory, ValueError):
            return None
    return None
