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

from civicgrid.cases import actions, deadlines, field_tasks, intake
from civicgrid.cases.problem import Locator, Problem
from civicgrid.cases.rules import Rules
from civicgrid.domain.case_state import Action, Role, Transition


@dataclass(frozen=True, slots=True)
class CaseService:
    rules: Rules = field(default_factory=Rules)

    def report(self, conn: psycopg.Connection, role: Role, actor: str, new: intake.NewCase, now: datetime,
               cell_at: Callable[[float, float], str | None]) -> tuple[str, bool]:
        """A person's report (上报): (case id, created), idempotent on the report's source record id."""
        return intake.report(self.rules, conn, role, actor, new, now, cell_at)

    def record_problem(self, conn: psycopg.Connection, problem: Problem, locator: Locator,
                       merge_window: timedelta) -> intake.Outcome:
        """A device's or handheld's problem: open a case or merge into the open one, exactly once."""
        return intake.record_problem(self.rules, conn, problem, locator, merge_window)

    def act(self, conn: psycopg.Connection, role: Role, actor: str, case_id: str, action: Action,
            data: Mapping[str, Any], media_ids: tuple[str, ...], now: datetime, *,
            visible: actions.Visible | None = None) -> Transition:
        """A person's lifecycle action (file, dispatch, suspend, resume, close, …)."""
        return actions.act(self.rules, conn, role, actor, case_id, action, data, media_ids, now, visible=visible)

    def apply_answer(self, conn: psycopg.Connection, answer: field_tasks.TaskAnswer) -> str:
        """An inspector's answer to a field task (核实 / 核查)."""
        return field_tasks.apply_answer(self.rules, conn, answer)

    def escalate_overdue(self, conn: psycopg.Connection, now: datetime) -> int:
        """Overdue event and urging for each case whose deadline passed since the last round."""
        return deadlines.escalate_overdue(self.rules, conn, now)
