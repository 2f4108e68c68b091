"""The town's people at work: provisioned, given what they know, and run in simulated time.

Every `poll_s` wall seconds each person looks at their work list once (a console refresh) and acts on
what is due; citizens place the calls that are due. Delays and working hours are the people's clock's time.
When the platform runs on a simulated clock (civicgrid/clock.py) the people read that same clock, so the
API stamps their actions at the times they meant; otherwise the people's clock is the devices' (`SimClock`)
and the API's is the wall clock (docs/simulators.md, "One clock").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from civicgrid.clock import PlatformClock
from simulators.people.centre import Dispatcher, Operator, ShiftLeader
from simulators.people.citizens import Citizens, cell_places
from simulators.people.client import Console
from simulators.people.field import DepartmentHandler, Inspector
from simulators.people.person import Clock, Person, World
from simulators.people.provision import Staff, provision
from simulators.people.reporters import Reporters, Source, grid_places
from simulators.people.scenario import PeopleScenario

log = logging.getLogger(__name__)


class Town:
    def __init__(self, scenario: PeopleScenario, clock: Clock, api_url: str, admin_user: str, admin_password: str,
                 state_path: Path, platform: Clock | None = None) -> None:
        self.scenario, self.clock, self.api_url = scenario, clock, api_url.rstrip("/")
        self.platform = platform or PlatformClock.system()
        self.admin = (admin_user, admin_password)
        self.state_path = state_path
        self.people: list[Person] = []
        self.citizens: Citizens | None = None
        self.reporters: Reporters | None = None
        self.staff: Staff | None = None
        self.world: World | None = None
        self.stopping = asyncio.Event()
        self.ticks = 0

    async def setup(self, http: httpx.AsyncClient) -> Staff:
        """Accounts (through the admin), what the people know, and the people themselves."""
        staff = await provision(Console(http, self.api_url, *self.admin), self.scenario, self.state_path)
        consoles = {a.username: Console(http, self.api_url, a.username, a.password) for a in staff.accounts}
        by_role: dict[str, list[Any]] = {}
        for a in staff.accounts:
            by_role.setdefault(a.role, []).append(a)
        dispatchers = by_role["dispatcher"]
        # The dispatcher's table is what the handlers judge their cases by (a department knows its remit).
        rules = await consoles[dispatchers[0].username].request("GET", "/responsibility")
        world = self.world = World(self.scenario, self.clock, staff.departments, rules, platform=self.platform)
        s = self.scenario
        hotline, video = f"{s.user_prefix}12319", f"{s.user_prefix}video1"
        operators = [a for a in by_role["operator"] if a.username not in (hotline, video)]
        self.people = [
            *(Operator(consoles[a.username], world, s.operators.shift, i, len(operators))
              for i, a in enumerate(operators)),
            *(ShiftLeader(consoles[a.username], world, s.shift_leaders.shift, i, len(by_role["shift_leader"]))
              for i, a in enumerate(by_role["shift_leader"])),
            *(Dispatcher(consoles[a.username], world, s.dispatchers.shift, i, len(dispatchers))
              for i, a in enumerate(dispatchers)),
            *(DepartmentHandler(consoles[a.username], world, a.department_id,
                                s.departments.for_department(a.department_id))
              for a in by_role.get("department", [])),
            *(Inspector(consoles[a.username], world, s.inspectors.shift) for a in by_role.get("inspector", [])),
        ]
        self.citizens = Citizens(world, http, self.api_url, staff.hotline_api_key,
                                 cell_places(staff.cells, s.scope.cell_prefix))
        by_grid = grid_places(staff.cells, s.scope.cell_prefix)
        sources = [Source("patrol", consoles[a.username], by_grid.get(a.grid_id or "", []), s.patrol.reports_per_day,
                          s.patrol.shift, s.patrol.categories, self_handle_rate=s.patrol.self_handle_rate)
                   for a in by_role.get("inspector", [])]
        if video in consoles:
            sources.append(Source("video", consoles[video], cell_places(staff.cells, s.scope.cell_prefix),
                                  s.video.captures_per_day, s.video.shift, s.video.categories, source="camera"))
        self.reporters = Reporters(world, sources)
        self.staff = staff
        return staff

    async def _tick_one(self, person: Person | Citizens | Reporters) -> None:
        try:
            await person.tick()
        except httpx.HTTPError as exc:
            assert self.world is not None
            self.world.ledger.errors[f"{person.role}:http"] += 1
            log.warning("%s: the API did not answer: %s", getattr(person, "name", person.role), exc)

    async def run(self, duration_s: float | None = None) -> dict[str, Any]:
        """Work until `stop()` or `duration_s` wall seconds; the ledger's summary."""
        # An idle connection is dropped after 2 s, before uvicorn closes it (its keep-alive is 5 s, httpx's
        # default expiry too): a request sent on a connection the server was closing at that moment failed with
        # "Server disconnected without sending a response" (3 errors in the full-volume month, a CI run's
        # shortened month failed on 3 more, both on a loaded machine).
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=16, keepalive_expiry=2.0)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            await self.setup(http)
            loop = asyncio.get_running_loop()
            end = None if duration_s is None else loop.time() + duration_s
            while not self.stopping.is_set() and (end is None or loop.time() < end):
                actors: list[Person | Citizens | Reporters] = [
                    *self.people, *([self.citizens] if self.citizens else []),
                    *([self.reporters] if self.reporters else [])]
                await asyncio.gather(*(self._tick_one(p) for p in actors))
                self.ticks += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), self.scenario.poll_s)
        return self.summary()

    def stop(self) -> None:
        self.stopping.set()

    def stop_intake(self) -> None:
        """No new problems (calls, patrol reports, captures); the people go on working what is open."""
        if self.citizens is not None:
            self.citizens.stop()
        if self.reporters is not None:
            self.reporters.stop()

    def summary(self) -> dict[str, Any]:
        if self.world is None:
            return {"people": 0}
        roles = Counter(p.role for p in self.people)
        return {"sim_now": self.clock.now().isoformat(), "ticks": self.ticks, "people": dict(roles),
                "calls": len(self.citizens.sent) if self.citizens else 0, **self.world.ledger.summary()}
