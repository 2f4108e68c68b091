"""The deadline watch's intent: every step of an open case — accept, verify, file, dispatch, dispose, check, close —
gets a warning (预警, ``deadline_warning``) when the pack's yellow share of its limit is used (80 % shipped) and an
``overdue`` event (超期) when its deadline passes, each once per step instance; a disposal that passes its deadline
is also urged (督办), as before.

A round (`watch`) first reads the clocks of the cases that changed since the last round (`read_clocks`: the step
clocks of civicgrid/domain/step_deadlines.py from the case's event records, by the limits and calendar of the rules
version the case was filed under, and disposal's from the case itself), then records what is due. Clocks, and
what was recorded of each, are in the database (civicgrid/cases/deadline_clocks.py), so a restarted or second
worker repeats nothing. Each event is a lifecycle transition with the next sequence number of the case, written
with its outbox row (cg.case-events) in the transaction that marks it recorded; before recording, the case is
locked and its clocks read again if it changed since the round read them, so a step that ended in between is
never warned about.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import psycopg

from civicgrid.cases import deadline_clocks as clocks
from civicgrid.cases import repository as store
from civicgrid.cases.rulebook import RuleBook
from civicgrid.domain import lifecycle
from civicgrid.domain.case_state import TERMINAL, Action, CaseState, Command, LifecycleError, Role
from civicgrid.domain.permissions import Permissions
from civicgrid.domain.step_deadlines import disposal_clock, step_clocks
from civicgrid.domain.time_limits import Light, Step

log = logging.getLogger(__name__)
WATCHER = "system:deadline-watch"
BATCH = 500  # cases read and events recorded per round at most; the next round takes the rest
# The watch's own events are the platform's, not a city's to grant or withhold: a pack stored before the warning
# existed has no row for it.
_WATCH_ROLES = {"actions": {Action.OVERDUE.value: [Role.ADMIN.value],
                            Action.DEADLINE_WARNING.value: [Role.ADMIN.value]}}
_ZH = {"accept": "受理", "verify": "核实", "file": "立案", "dispatch": "派遣", "dispose": "处置", "check": "核查",
       "close": "结案"}


@dataclass(frozen=True, slots=True)
class Round:
    """What one round of the watch did."""

    read: int = 0  # cases whose clocks were (re)read
    warnings: int = 0
    overdue: int = 0

    @property
    def events(self) -> int:
        return self.warnings + self.overdue


def kind_of(step: str) -> str:
    """The event's ``deadline`` field: the step, except disposal's, which keeps the name it always had."""
    return "disposal" if step == Step.DISPOSE.value else step


def read_clocks(book: RuleBook, conn: psycopg.Connection, case: CaseState, now: datetime) -> list[clocks.ClockRow]:
    """The running step clocks of a case (locked by the caller), by its own version's limits and calendar."""
    rules = book.rules(conn, store.rules_version(conn, case.id))
    records = [r[0] for r in conn.execute("SELECT payload FROM case_events WHERE case_id = %s ORDER BY seq",
                                          (case.id,)).fetchall()]
    running = [c for c in step_clocks(records, rules.limits, rules.calendar, now) if c.running]
    disposal = disposal_clock(case, rules.disposal_limit(case.category, case.disposal_class, case.cell))
    if disposal is not None:
        running.append(disposal)
    share = rules.limits.light[Light.YELLOW]
    return [clocks.ClockRow(c.step.value, c.started_at, c.warn_at(share, rules.calendar), c.deadline)
            for c in running]


def _sync(book: RuleBook, conn: psycopg.Connection, case: CaseState, now: datetime) -> None:
    """Store the case's clocks as they are now (inside the caller's transaction, the case locked)."""
    if case.state in TERMINAL:
        clocks.replace_clocks(conn, case.id, case.version, None)
    else:
        clocks.replace_clocks(conn, case.id, case.version, read_clocks(book, conn, case, now))


def sync_changed(book: RuleBook, conn: psycopg.Connection, now: datetime, limit: int = BATCH) -> int:
    """Read again the clocks of the cases that changed since they were read; return how many."""
    changed = clocks.changed_cases(conn, limit)
    for case_id in changed:
        with conn.transaction():
            try:
                case = store.lock_case(conn, case_id)
            except (KeyError, TypeError, ValueError) as exc:  # a row the case layer never wrote: not its snapshot
                log.warning("deadline watch: case %s unreadable (%s: %s); passed over until it changes", case_id,
                            type(exc).__name__, exc)
                row = conn.execute("SELECT version FROM cases WHERE id = %s", (case_id,)).fetchone()
                clocks.replace_clocks(conn, case_id, row[0] if row else 0, [])
                continue
            _sync(book, conn, case, now)
    return len(changed)


def _record(book: RuleBook, conn: psycopg.Connection, item: clocks.Due, now: datetime) -> bool:
    """Record one due event if it is still owed (in the caller's transaction); True when recorded."""
    case = store.lock_case(conn, item.case_id)
    if clocks.synced_version(conn, case.id) != case.version:  # changed since the round read it
        _sync(book, conn, case, now)
    current = clocks.clock(conn, case.id, item.step, item.started_at)
    if current is None or case.state in TERMINAL or case.state.value == "suspended":
        return False  # the step ended (or the case stopped) in between
    row, warned, overdue = current
    if item.level == "warning" and (warned or row.warn_at > now):
        return False
    if item.level == "overdue" and (overdue or row.deadline_at >= now):
        return False
    clocks.mark(conn, case.id, item.step, item.started_at, item.level, now)
    rules = book.for_case(conn, case.id)
    permissions: Permissions = rules.permissions.merged(_WATCH_ROLES)
    kind, zh = kind_of(item.step), _ZH.get(item.step, item.step)
    due = row.deadline_at.astimezone(rules.calendar.tz).strftime("%Y-%m-%d %H:%M")  # as the city reads its clocks
    data = {"deadline": kind, "step": item.step, "started_at": row.started_at, "deadline_at": row.deadline_at}
    if item.level == "warning":
        share = rules.limits.light[Light.YELLOW]
        data |= {"warn_at": row.warn_at, "share": share,
                 "note": f"{zh}时限已用 {share:.0%}，{due} 到期 ({kind} deadline)"}
        action = Action.DEADLINE_WARNING
    else:
        data |= {"note": f"{zh}超期，{due} 到期 ({kind} deadline passed)"}
        action = Action.OVERDUE
    try:
        event = lifecycle.apply(case, Command(action, Role.ADMIN, WATCHER, data), now, permissions=permissions,
                                policy=rules.policy)
    except LifecycleError as exc:  # cannot happen in an open, unsuspended case; kept marked, never retried
        log.warning("case %s: %s %s not recorded: %s", case.id, kind, item.level, exc)
        return False
    store.record_transition(conn, event)
    last = event
    if item.level == "overdue" and item.step == Step.DISPOSE.value:  # the department is urged (督办), as always
        try:
            last = lifecycle.apply(event.case, Command(Action.URGE, Role.ADMIN, WATCHER, {
                "note": f"{kind} deadline {row.deadline_at.isoformat()} passed"}), now,
                permissions=rules.permissions, policy=rules.policy)
            store.record_transition(conn, last)
        except LifecycleError as exc:  # e.g. a city's table that lets no admin urge
            log.info("case %s overdue but not urgeable: %s", case.id, exc)
    clocks.move_synced(conn, case.id, case.version, last.case.version)  # its own events move no clock
    return True


def watch(book: RuleBook, conn: psycopg.Connection, now: datetime, limit: int = BATCH) -> Round:
    """One round: read the changed cases' clocks, then record every warning and overdue event that is due."""
    read = sync_changed(book, conn, now, limit)
    warnings, overdue = record_due(book, conn, now, limit)
    return Round(read, warnings, overdue)


def record_due(book: RuleBook, conn: psycopg.Connection, now: datetime, limit: int = BATCH) -> tuple[int, int]:
    """Record the warnings and overdue events due by `now`, each in a transaction of its own; (warnings, overdue)."""
    warnings = overdue = 0
    for item in clocks.due(conn, now, limit):
        with conn.transaction():
            if not _record(book, conn, item, now):
                continue
        if item.level == "warning":
            warnings += 1
        else:
            overdue += 1
        log.info("case %s: %s %s (%s)", item.case_id, kind_of(item.step), item.level, item.at.isoformat())
    return warnings, overdue
