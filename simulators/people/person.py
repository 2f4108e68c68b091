"""A simulated person's working loop: look at the work list, plan each case once, act when the plan is due.

A plan is made when a case first shows up (or changes: a new version), with the person's delay drawn
then, so a case moved by somebody else meanwhile is re-planned rather than acted on blindly. The action
goes out when the simulated clock reaches the plan's time while the person is on duty, or, for a handler
meeting a deadline, when the platform's clock says it is time. A refusal (409: another person moved it
first; 404: it left the scope) drops the plan; the next look sees the case as it is now.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from civicgrid.clock import PlatformClock
from simulators.people.client import ApiRefused, Console
from simulators.people.decisions import case_rng, draw_minutes, due_at, mine, on_duty
from simulators.people.scenario import Delay, PeopleScenario, Shift

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Plan:
    action: str  # the case action (API path with '_')
    version: int  # the case version the plan was made for
    due: datetime  # simulated time
    body: dict[str, Any] = field(default_factory=dict)
    not_before: datetime | None = None  # platform time: a late handler waits past the deadline
    hurry_at: datetime | None = None  # platform time: act now, whatever the people's clock says
    note: str = ""  # what the ledger records beside the action (e.g. "wrong_department")


@dataclass
class Ledger:
    """What the people did, for the live summary and the tests: actions by (role, action), refusals."""

    actions: Counter[tuple[str, str]] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)
    refused: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {"actions": {f"{r}:{a}": n for (r, a), n in sorted(self.actions.items())},
                "notes": dict(self.notes), "refused": {str(k): v for k, v in self.refused.items()},
                "errors": dict(self.errors)}


@dataclass
class World:
    """What the town's people know between them: the scenario, the clocks, the organisation (departments and
    the responsibility table, read through the API), and the ledger of what they did."""

    scenario: PeopleScenario
    clock: Clock
    departments: list[str]
    rules: list[dict[str, Any]]
    # The clock the API stamps actions and counts deadlines by (civicgrid/clock.py). On a simulated platform
    # clock it is the people's own `clock`; on the system clock it is wall time (docs/simulators.md, "One clock").
    platform: Clock = field(default_factory=PlatformClock.system)
    ledger: Ledger = field(default_factory=Ledger)

    @property
    def cell_prefix(self) -> str | None:
        return self.scenario.scope.cell_prefix


class Person:
    """Base of every role: `states` to look at, `plan` per case; `index`/`colleagues` split the work."""

    role: ClassVar[str] = ""
    states: ClassVar[tuple[str, ...]] = ()

    def __init__(self, console: Console, world: World, shift: Shift, index: int = 0, colleagues: int = 1) -> None:
        self.console, self.world, self.shift = console, world, shift
        self.index, self.colleagues = index, colleagues
        self.plans: dict[str, Plan] = {}
        # When each step of each case was first noticed: a re-plan (the case changed) keeps the start.
        self.noticed: dict[tuple[str, str], datetime] = {}

    @property
    def name(self) -> str:
        return self.console.username

    def rng(self, case_id: str, step: str) -> random.Random:
        return case_rng(self.world.scenario.seed, self.role, case_id, step)

    def due(self, case_id: str, step: str, delay: Delay) -> datetime:
        """When this step is done: the delay drawn for it, from when the person first noticed it."""
        noticed = self.noticed.setdefault((case_id, step), self.world.clock.now())
        return due_at(noticed, draw_minutes(delay, self.rng(case_id, step)), self.shift)

    async def work_list(self) -> list[dict[str, Any]]:
        return await self.console.cases(list(self.states), cell_prefix=self.world.cell_prefix)

    async def plan(self, case: dict[str, Any]) -> Plan | None:
        raise NotImplementedError

    async def tick(self) -> None:
        """One look at the work list: plan what is new, act on what is due."""
        cases = await self.work_list()
        seen = set()
        for case in cases:
            if not mine(case["id"], self.index, self.colleagues):
                continue
            seen.add(case["id"])
            plan = self.plans.get(case["id"])
            if plan is None or plan.version != case["version"]:
                plan = await self.plan(case)
                if plan is None:
                    self.plans.pop(case["id"], None)
                    continue
                self.plans[case["id"]] = plan
            if self.is_due(plan):
                await self.carry_out(case, plan)
        for gone in set(self.plans) - seen:
            del self.plans[gone]
        if len(self.noticed) > 50_000:  # a long run: forget steps of cases no longer on the list
            self.noticed = {k: v for k, v in self.noticed.items() if k[0] in seen}

    def is_due(self, plan: Plan) -> bool:
        real = self.world.platform.now()
        if plan.hurry_at is not None and real >= plan.hurry_at:
            return True
        if plan.not_before is not None and real < plan.not_before:
            return False
        now = self.world.clock.now()
        return now >= plan.due and on_duty(now, self.shift)

    async def carry_out(self, case: dict[str, Any], plan: Plan) -> None:
        del self.plans[case["id"]]
        try:
            await self.console.act(case["id"], plan.action, plan.body)
        except ApiRefused as exc:
            self.world.ledger.refused[exc.status] += 1
            if exc.status not in (404, 409):
                self.world.ledger.errors[f"{self.role}:{plan.action}:{exc.status}"] += 1
                log.warning("%s %s on case %s refused: %s", self.name, plan.action, case["id"], exc)
            return
        self.world.ledger.actions[self.role, plan.action] += 1
        if plan.note:
            self.world.ledger.notes[plan.note] += 1
        log.info("%s (%s) %s case %s", self.name, self.role, plan.action, case.get("case_no") or case["id"])


def last_event(detail: dict[str, Any], actions: tuple[str, ...]) -> dict[str, Any] | None:
    """The newest timeline entry among `actions` (the timeline is oldest first)."""
    return next((e for e in reversed(detail.get("timeline") or []) if e["action"] in actions), None)
