"""Every step's own deadline (issue 19, item 5): accept, verify, file, dispatch, check and close, not only disposal.

Operators, shift leaders and dispatchers are scored on these limits (civicgrid/domain/case_facts.py judges them
after the fact), so they must see them coming. This module replays one case's event records and says, for each
step the case has entered, when its clock started, when it runs out — the step's limit added on the working
calendar from that start, the time the case stood suspended (挂账) left out — and when the step ended. Its start and
end events are the ones scoring judges by, so what the console shows is what the evaluation will count:

| step | starts | ends |
| --- | --- | --- |
| accept 受理 | the report; the disposal feedback | accept, send_verify, file, self_handle; send_check |
| verify 核实 | send_verify | confirm, refute |
| file 立案 | the report, or the confirmation when it was sent to verify | file |
| dispatch 派遣 | file; an approved return | dispatch |
| check 核查 | send_check | check_pass, check_fail |
| close 结案 | check_pass | close |

A case that ends (closed, cancelled, merged) cuts every step still running: ended, but not judged (a dispatch never
made because the case was cancelled was neither on time nor late). Disposal has its own deadline on the case
(`disposal_clock`). The deadline watch (civicgrid/cases/deadlines.py) warns at `StepClock.warn_at` and escalates
past `StepClock.deadline`, once per clock.
Pure: time comes in as `now`, records as the dicts `Transition.record()` writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from civicgrid.domain.case_state import TERMINAL, CaseState, Transition
from civicgrid.domain.time_limits import (
    Light,
    Limit,
    Pause,
    Step,
    TimeLimits,
    Unit,
    deadline,
    elapsed,
    share_used,
)
from civicgrid.domain.working_calendar import WorkingCalendar

# action → (the steps it ends, the steps it starts)
_STARTS_AND_ENDS: dict[str, tuple[tuple[Step, ...], tuple[Step, ...]]] = {
    "accept": ((Step.ACCEPT,), ()),
    "send_verify": ((Step.ACCEPT,), (Step.VERIFY,)),
    "confirm": ((Step.VERIFY,), (Step.FILE,)),
    "refute": ((Step.VERIFY,), ()),
    "file": ((Step.ACCEPT, Step.FILE), (Step.DISPATCH,)),
    "self_handle": ((Step.ACCEPT, Step.FILE), ()),
    "dispatch": ((Step.DISPATCH,), ()),
    "approve_return": ((), (Step.DISPATCH,)),
    "dispose": ((), (Step.ACCEPT,)),
    "send_check": ((Step.ACCEPT,), (Step.CHECK,)),
    "check_pass": ((Step.CHECK,), (Step.CLOSE,)),
    "check_fail": ((Step.CHECK,), ()),
    "close": ((Step.CLOSE,), ()),
}
_FINAL_STATES = {"closed", "cancelled"}


@dataclass(frozen=True, slots=True)
class StepClock:
    """One step's clock: started, runs out at `deadline`, ended (None: still running)."""

    step: Step
    started_at: datetime
    deadline: datetime
    ended_at: datetime | None
    limit: Limit
    pauses: tuple[Pause, ...] = ()
    completed: bool = True  # False: cut short by the end of the case

    @property
    def running(self) -> bool:
        return self.ended_at is None

    @property
    def on_time(self) -> bool | None:
        """Done by its deadline (finishing at the deadline is on time); None while running or when cut short."""
        return None if self.ended_at is None or not self.completed else self.ended_at <= self.deadline

    def share_used(self, now: datetime, calendar: WorkingCalendar) -> float:
        """Elapsed / limit up to `now` (or the end), the suspension left out."""
        return share_used(self.started_at, self.ended_at or now, self.limit, calendar, self.pauses)

    def light(self, now: datetime, limits: TimeLimits, calendar: WorkingCalendar) -> Light:
        """Green, yellow from the pack's yellow share (80 % shipped), red past the limit."""
        return limits.traffic_light(self.share_used(now, calendar))

    def warn_at(self, share: float, calendar: WorkingCalendar) -> datetime:
        """When `share` of the time from the start to the deadline is used (the light turns yellow there): in the
        limit's own kind of time, the suspension left out. Measured against the deadline rather than the limit, so
        a disposal deadline moved by a postponement moves its warning with it."""
        span = elapsed(self.started_at, self.deadline, self.limit, calendar, self.pauses)
        minutes = span.total_seconds() / 60 * share
        unit = Unit.NATURAL_MINUTES if self.limit.natural else Unit.MINUTES
        return deadline(self.started_at, Limit(minutes, unit), calendar, self.pauses)


def disposal_clock(case: CaseState, limit: Limit) -> StepClock | None:
    """Disposal's clock (处置) from the case itself: it runs from the dispatch (or the latest rework) until the
    disposal feedback, against the deadline stored on the case (the class limit, postponements and suspensions
    already applied by the lifecycle). None when no disposal is running."""
    if case.state in TERMINAL or case.dispatched_at is None or case.disposal_deadline is None \
            or case.disposed_at is not None:
        return None
    return StepClock(Step.DISPOSE, case.dispatched_at, case.disposal_deadline, None, limit, (), False)


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def step_clocks(records: Iterable[Mapping[str, Any] | Transition], limits: TimeLimits, calendar: WorkingCalendar,
                now: datetime) -> list[StepClock]:
    """Every step clock of one case, oldest first, from its records (any order; ordered by seq)."""
    events = sorted((r.record() if isinstance(r, Transition) else r for r in records), key=lambda r: r["seq"])
    if not events:
        return []
    running: dict[Step, datetime] = {}
    done: list[tuple[Step, datetime, datetime | None, bool]] = []
    pauses: list[Pause] = []
    suspended_at: datetime | None = None
    first = events[0]
    t0 = _time(first["at"])
    if first["to_state"] not in _FINAL_STATES:
        running = {Step.ACCEPT: t0, Step.FILE: t0}
    for ev in events[1:]:
        at, action = _time(ev["at"]), ev["action"]
        if action == "suspend":
            suspended_at = at
        elif action == "resume" and suspended_at is not None:
            pauses.append((suspended_at, at))
            suspended_at = None
        ends, starts = _STARTS_AND_ENDS.get(action, ((), ()))
        if action == "send_verify":
            running.pop(Step.FILE, None)  # filing waits for the verification; its clock starts at the confirmation
        for step in ends:
            if step in running:
                done.append((step, running.pop(step), at, True))
        if ev["to_state"] in _FINAL_STATES:
            done += [(step, start, at, False) for step, start in running.items()]
            running = {}
            continue
        for step in starts:
            running[step] = at
    if suspended_at is not None:  # suspended now: the clock stands still (the deadline as if resumed now)
        pauses.append((suspended_at, max(now, suspended_at)))
    done += [(step, start, None, False) for step, start in running.items()]
    frozen = tuple(pauses)
    clocks = []
    for step, start, end, completed in done:
        limit = limits.step(step)
        clocks.append(StepClock(step, start, deadline(start, limit, calendar, frozen), end, limit, frozen,
                                completed))
    return sorted(clocks, key=lambda c: (c.started_at, list(Step).index(c.step)))
