"""Where the county month's problems come from besides 12319: inspectors' patrol reports and the video wall.

- Patrol (监督员巡查上报): each responsibility grid's inspector reports problems found on patrol, a Poisson
  process of `patrol.reports_per_day` in the patrol hours, at a point of a random cell of the grid, through
  `POST /cases` with their own login (the handheld app's route); a share they fix on the spot (自处理).
  Under `civicgrid run` the handheld simulator reports over MQTT instead, and this rate is zero.
- Video wall (视频抓拍): an operator files what the cameras caught, `video.captures_per_day`, through
  `POST /cases` with source `camera`.

Each report carries a `client_ref`, so a retried post never opens a second case.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from simulators.people.citizens import Place
from simulators.people.client import ApiRefused, Console
from simulators.people.decisions import after_on_duty, call_gap_minutes, on_duty_minutes_per_day, pick_category
from simulators.people.person import World
from simulators.people.scenario import Shift

log = logging.getLogger(__name__)
FOUND = {"E0102": "路边暴露垃圾", "E0505": "机动车乱停放", "E0504": "店外经营占道", "E0201": "非法小广告",
         "E0104": "道路不洁", "C0305": "垃圾箱破损", "C0118": "路灯不亮", "C0102": "污水井盖破损",
         "E0501": "无照游商", "E0507": "乱堆物堆料"}


@dataclass
class Source:
    """One stream of reports: who posts, where, how often, in which categories, under which source."""

    name: str  # for the ledger: "patrol" or "video"
    console: Console
    places: list[Place]
    per_day: float
    shift: Shift
    categories: dict[str, float]
    source: str | None = None  # None: the poster's role decides (an inspector's report)
    self_handle_rate: float = 0.0
    next_at: datetime | None = None
    made: int = 0
    rng: random.Random = field(default_factory=random.Random)


class Reporters:
    """Every patrol and video source of the town, ticked with the people; `stop()` ends new reports."""

    role = "reporter"

    def __init__(self, world: World, sources: list[Source]) -> None:
        self.world, self.sources = world, sources
        self.open = True
        for s in sources:
            s.rng = random.Random(f"{world.scenario.seed}:{s.name}:{s.console.username}")

    def stop(self) -> None:
        self.open = False

    async def tick(self) -> None:
        if not self.open:
            return
        now = self.world.clock.now()
        for s in self.sources:
            if not s.places or s.per_day <= 0:
                continue
            per_day = on_duty_minutes_per_day(s.shift)
            if s.next_at is None:
                s.next_at = after_on_duty(now, call_gap_minutes(s.per_day, s.rng, per_day), s.shift)
            while s.next_at <= now and self.open:
                await self._post(s)
                s.next_at = after_on_duty(s.next_at, call_gap_minutes(s.per_day, s.rng, per_day), s.shift)

    async def _post(self, s: Source) -> None:
        s.made += 1
        category, place = pick_category(s.categories, s.rng), s.rng.choice(s.places)
        self_handle = s.rng.random() < s.self_handle_rate
        body: dict[str, Any] = {"category_code": category, "description": FOUND.get(category, "巡查发现问题"),
                                "lon": place.lon, "lat": place.lat,
                                "client_ref": f"{self.world.scenario.seed}-{s.name}-{s.made}"}
        if s.source:
            body["source"] = s.source
        try:
            case = await s.console.request("POST", "/cases", json=body)
            self.world.ledger.actions[s.name, "report"] += 1
            if self_handle:
                await s.console.act(case["id"], "self_handle", {"note": "现场自行处置 (fixed on the spot)"})
                self.world.ledger.actions[s.name, "self_handle"] += 1
        except (ApiRefused, httpx.HTTPError) as exc:
            self.world.ledger.errors[f"{s.name}:report"] += 1
            log.warning("%s report by %s refused: %s", s.name, s.console.username, exc)


def grid_places(cells: dict[str, Any], prefix: str | None) -> dict[str, list[Place]]:
    """The scope's cells by responsibility grid (a point inside each; the cells are convex)."""
    out: dict[str, list[Place]] = {}
    for feature in cells.get("features", []):
        props, geometry = feature["properties"], feature["geometry"]
        if (prefix and not props["code"].startswith(prefix)) or not props.get("grid") \
                or geometry["type"] != "Polygon":
            continue
        ring = geometry["coordinates"][0][:-1]
        out.setdefault(props["grid"], []).append(Place(props["code"], round(sum(p[0] for p in ring) / len(ring), 7),
                                                       round(sum(p[1] for p in ring) / len(ring), 7)))
    return out
