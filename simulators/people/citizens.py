"""Citizens calling 12319: problems reported through the hotline system's Open311 client.

Calls come as a Poisson process over the hours citizens call, each about a problem at a point of a
grid cell of the town (the cell's centre), in a category drawn from the scenario's weights. Some callers
call again about the same problem later (`repeat_rate`): the second request is a new hotline case about
the same category in the same cell, which the operator recognises as a repeat (重复上报). The posts carry
the hotline system's API key (an operator account's, scope `open311`), as a real 12319 system's would.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from simulators.people.client import ApiRefused, open311_request
from simulators.people.decisions import (
    after_on_duty,
    call_gap_minutes,
    draw_minutes,
    due_at,
    on_duty_minutes_per_day,
    pick_category,
)
from simulators.people.person import World

log = logging.getLogger(__name__)
DESCRIPTIONS = {"E0102": "路边垃圾堆放好几天了", "E0505": "小区门口车辆乱停，堵住通道", "E0504": "商户占道经营",
                "E0201": "电线杆上贴满小广告", "E0404": "下水道堵了，污水外溢", "C0118": "路灯坏了，晚上很黑"}
SURNAMES = "王李张刘陈杨黄赵吴周"


@dataclass(frozen=True, slots=True)
class Place:
    cell: str
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class Problem:
    number: int
    category: str
    place: Place
    caller: str
    phone: str


def cell_places(cells: dict[str, Any], prefix: str | None) -> list[Place]:
    """A point inside each cell of the scope (the mean of its outline's corners: the cells are convex)."""
    out = []
    for feature in cells.get("features", []):
        code = feature["properties"]["code"]
        if prefix and not code.startswith(prefix):
            continue
        ring = feature["geometry"]["coordinates"][0][:-1] if feature["geometry"]["type"] == "Polygon" else None
        if ring:
            out.append(Place(code, round(sum(p[0] for p in ring) / len(ring), 7),
                             round(sum(p[1] for p in ring) / len(ring), 7)))
    return out


class Citizens:
    """The town's callers, as one process of calls (they have no accounts: the hotline system posts)."""

    role = "citizen"

    def __init__(self, world: World, http: httpx.AsyncClient, base_url: str, api_key: str,
                 places: list[Place]) -> None:
        self.world, self.http, self.base, self.api_key, self.places = world, http, base_url, api_key, places
        self.cfg = world.scenario.citizens
        self.rng = random.Random(f"{world.scenario.seed}:citizens")
        self.problems = 0
        self.next_call: datetime | None = None
        self.repeats: list[tuple[datetime, Problem]] = []
        self.sent: list[tuple[str, Problem]] = []  # (service_request_id, problem)
        self.open = True
        self.answers: dict[str, dict[str, str]] = {}  # category → the required attributes' answers

    def _schedule(self, after: datetime) -> None:
        """The next call, a gap of on-duty time after `after` (the previous call, or the first tick): chained from
        call to call, so that the day's number of calls is the scenario's whatever the length of a tick."""
        if self.cfg.max_problems is not None and self.problems >= self.cfg.max_problems:
            self.next_call = None
            return
        gap = call_gap_minutes(self.cfg.calls_per_day, self.rng, on_duty_minutes_per_day(self.cfg.shift))
        self.next_call = None if gap == float("inf") else after_on_duty(after, gap, self.cfg.shift)

    def stop(self) -> None:
        """No more calls (the county month's drain: the people finish what is open)."""
        self.open = False

    async def tick(self) -> None:
        if not self.open:
            return
        now = self.world.clock.now()
        if self.next_call is None and not self.problems:
            self._schedule(now)
        # Every call due by now, each at its own time: one call a tick, the next scheduled from the tick, lost
        # calls whenever a tick was long (the full-volume month got 81 calls of about 228, docs/county-month.md).
        while self.next_call is not None and now >= self.next_call and self.places and self.open:
            at = self.next_call
            self.problems += 1
            problem = Problem(self.problems, pick_category(self.cfg.categories, self.rng),
                              self.rng.choice(self.places), self.rng.choice(SURNAMES) + "先生",
                              f"139{self.rng.randrange(10**8):08d}")
            self._schedule(at)
            if await self.call(problem) and self.rng.random() < self.cfg.repeat_rate:
                again = due_at(at + timedelta(minutes=draw_minutes(self.cfg.repeat_after, self.rng)), 0,
                               self.cfg.shift)
                self.repeats.append((again, problem))
        for entry in [r for r in self.repeats if now >= r[0]]:
            self.repeats.remove(entry)
            await self.call(entry[1], again=True)

    async def details(self, category: str) -> dict[str, str]:
        """What the service asks of a caller (its Open311 definition's required attributes), answered as the
        hotline operator would from the call: the first choice of a list, a word for a text. Read once."""
        if category not in self.answers:
            answers: dict[str, str] = {}
            try:
                r = await self.http.get(f"{self.base.rstrip('/')}/open311/v2/services/{category}.json")
                attributes = r.json().get("attributes", []) if r.status_code == 200 else []
            except (httpx.HTTPError, ValueError, AttributeError):
                attributes = []
            for a in attributes:
                if not a.get("required"):
                    continue
                if a.get("values"):
                    answers[f"attribute[{a['code']}]"] = str(a["values"][0]["key"])
                else:
                    answers[f"attribute[{a['code']}]"] = "1" if a.get("datatype") == "number" else "来电所述"
            self.answers[category] = answers
        return self.answers[category]

    async def call(self, problem: Problem, *, again: bool = False) -> bool:
        description = DESCRIPTIONS.get(problem.category, "发现城市管理问题")
        form = {"service_code": problem.category, "lat": str(problem.place.lat), "long": str(problem.place.lon),
                "description": ("又打电话: " if again else "") + description, "first_name": problem.caller,
                "phone": problem.phone, "account_id": f"caller-{problem.number}",
                **await self.details(problem.category)}
        try:
            request_id = await open311_request(self.http, self.base, self.api_key, form)
        except (ApiRefused, httpx.HTTPError) as exc:
            self.world.ledger.errors["citizen:call"] += 1
            log.warning("12319 call about problem %s refused: %s", problem.number, exc)
            return False
        self.sent.append((request_id, problem))
        self.world.ledger.actions[self.role, "call_again" if again else "call"] += 1
        return True
