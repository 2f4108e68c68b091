"""`CaseService`: the case intents bound to one `Rules`, the one entry point the API and the streams use.

Each method is one intent and one transaction on the connection it is given; the modules
beside this one hold the rules of each intent (intake, actions, field tasks, deadlines).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg

from civicgrid.cases import actions, deadlines, field_tasks, intake, placing
from civicgrid.cases import duplicates as dup
from civicgrid.cases.callers import Caller
from civicgrid.cases.problem import Locator, Problem
from civicgrid.cases.rulebook import RuleBook
from civicgrid.cases.rules import Rules
from civicgrid.domain.case_state import Action, Role, Transition
from civicgrid.store.addresses import Candidate


@dataclass(frozen=True, slots=True)
class CaseService:
    """`book` says which rules judge each case: the current version for a new one, its own for later steps."""

    book: RuleBook = field(default_factory=RuleBook)

    @property
    def rules(self) -> Rules:
        """The current rules as last seen (the shipped defaults before the first case): for readers without a
        case at hand. A case's own rules: `book.for_case`."""
        return self.book.known

    def report(self, conn: psycopg.Connection, role: Role, actor: str, new: intake.NewCase, now: datetime,
               cell_at: Callable[[float, float], str | None],
               locate_address: Callable[[str], Candidate | None] | None = None) -> tuple[str, bool]:
        """A person's report (上报): (case id, created), idempotent on the report's source record id. An address
        without a point is placed by `locate_address`; a report left without a place is flagged unlocated."""
        return intake.report(self.book, conn, role, actor, new, now, cell_at, locate_address)

    def place(self, conn: psycopg.Connection, role: Role, actor: str, case_id: str, lon: float, lat: float,
              now: datetime, cell_at: Callable[[float, float], str | None], *,
              address: str | None = None) -> placing.Placed:
        """Place an unlocated case on the map (point → cell), without a lifecycle step."""
        return placing.place(self.book.for_case(conn, case_id).permissions, conn, role, actor, case_id, lon, lat,
                             now, cell_at, address=address)

    def duplicates(self, conn: psycopg.Connection, category_code: str, lon: float, lat: float, now: datetime, *,
                   radius_m: float | None = None) -> list[dup.NearbyCase]:
        """The open cases a report at this point may repeat (offered before it is filed), nearest first."""
        _, rules = self.book.current(conn)
        return dup.candidates(rules.duplicates, conn, category_code, lon, lat, now, radius_m=radius_m)

    def link(self, conn: psycopg.Connection, role: Role, actor: str, case_id: str, caller: Caller,
             now: datetime, media_ids: tuple[str, ...] = (), *,
             details: Mapping[str, Any] | None = None) -> dup.Linked:
        """Link a report (and its media) to an open case instead of filing it; its caller is kept on the case for
        feedback, `details` (an instruction's or a transfer's) on its evidence."""
        return dup.link(self.book.for_case(conn, case_id).permissions, conn, role, actor, case_id, caller, now,
                        media_ids, details=details)

    def record_problem(self, conn: psycopg.Connection, problem: Problem, locator: Locator,
                       merge_window: timedelta) -> intake.Outcome:
        """A device's or handheld's problem: open a case or merge into the open one, exactly once."""
        return intake.record_problem(self.book, conn, problem, locator, merge_window)

    def act(self, conn: psycopg.Connection, role: Role, actor: str, case_id: str, action: Action,
            data: Mapping[str, Any], media_ids: tuple[str, ...], now: datetime, *,
            visible: actions.Visible | None = None) -> Transition:
        """A person's lifecycle action (file, dispatch, suspend, resume, close, …)."""
        return actions.act(self.book.for_case(conn, case_id), conn, role, actor, case_id, action, data, media_ids, now,
                           visible=visible)

    def apply_answer(self, conn: psycopg.Connection, answer: field_tasks.TaskAnswer) -> str:
        """An inspector's answer to a field task (核实 / 核查)."""
        return field_tasks.apply_answer(self.book.for_case(conn, answer.case_id), conn, answer)

    def escalate_overdue(self, conn: psycopg.Connection, now: datetime) -> int:
        """One round of the deadline watch: each step's warning at 80 % and overdue event (a disposal's with an
        urging) that fell due since the last round; return how many events it recorded."""
        return self.watch_deadlines(conn, now).events

    def watch_deadlines(self, conn: psycopg.Connection, now: datetime) -> deadlines.Round:
        """One round of the deadline watch, with what it read and recorded (civicgrid/cases/deadlines.py)."""
        return deadlines.watch(self.book, conn, now)
