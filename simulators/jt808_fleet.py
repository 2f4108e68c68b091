"""The town's trucks with JT/T 808 terminals: muck trucks and sanitation vehicles driving its streets.

Each truck drives back and forth along a street of the generated city (streets.geojson), reporting its position
every `interval_s` in real time (the gateway refuses fix times ahead of its clock). Some trucks speed on part of
their way: above the terminal's own limit (60 km/h) they set the over-speed alarm bit with item 0x11, as a terminal
does. One cell of the town is a restricted area for muck trucks, known to every terminal as area 1: a truck whose
street crosses it sets the in/out-area bit with item 0x12 on entering and on leaving. Terminals register once, keep
their code, authenticate on every connection and reconnect with back-off.

``civicgrid simulate-jt808 --city DIR`` provisions the trucks (kind vehicle-terminal, ids ``1390000xxxx`` from the
fleet's seed) and drives them until Ctrl-C; ``civicgrid run`` starts it beside ``civicgrid jt808-gateway``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import shapely
import typer

from civicgrid.settings import Settings
from simulators.jt808_terminal import ALARM_AREA, ALARM_OVERSPEED, Fix, Terminal, TerminalError

log = logging.getLogger(__name__)

SPEED_LIMIT_KMH = 60.0
RESTRICTED_AREA_ID = 1
KIND = "vehicle-terminal"


@dataclass
class Truck:
    phone: str
    plate: str
    route: list[tuple[float, float]]  # the street's points, driven there and back
    cruise_kmh: float
    speeder: bool  # drives its route's middle third at 70-85 km/h
    terminal: Terminal | None = None
    code: str | None = None
    travelled_m: float = 0.0
    inside: bool = False  # in the restricted cell at the last report
    mileage_km: float = field(default_factory=lambda: random.uniform(1000, 90000))
    reports: int = 0

    def length_m(self) -> float:
        return sum(_metres(a, b) for a, b in itertools.pairwise(self.route))

    def position(self) -> tuple[float, float, int, float]:
        """(lon, lat, heading, fraction of the route) at `travelled_m`, going there and back."""
        total = self.length_m() or 1.0
        lap = self.travelled_m % (2 * total)
        forward = lap <= total
        along = lap if forward else 2 * total - lap
        points = self.route if forward else self.route[::-1]
        along = along if forward else total - along
        for a, b in itertools.pairwise(points):
            step = _metres(a, b)
            if along <= step and step > 0:
                t = along / step
                heading = round(math.degrees(math.atan2((b[0] - a[0]) * math.cos(math.radians(a[1])), b[1] - a[1])))
                return a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, heading % 360, lap / (2 * total)
            along -= step
        return points[-1][0], points[-1][1], 0, lap / (2 * total)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    k = 111_320.0
    return math.hypot((b[0] - a[0]) * k * math.cos(math.radians(a[1])), (b[1] - a[1]) * k)


def plan_fleet(city: Path, trucks: int, seed: int) -> tuple[list[Truck], shapely.Polygon, str]:
    """The trucks on their streets, and the restricted cell (one crossed by the first truck's street)."""
    rng = random.Random(seed)
    streets = orjson.loads((city / "streets.geojson").read_bytes())["features"]
    cells = orjson.loads((city / "cells.geojson").read_bytes())["features"]
    main = [s for s in streets if s["properties"].get("road_class") in ("main", "secondary")] or streets
    chosen = [main[rng.randrange(len(main))] for _ in range(trucks)]
    fleet = [Truck(phone=f"1390000{seed % 10}{n:03d}", plate=f"皖N{seed % 10}{n:04d}",
                   route=[(float(x), float(y)) for x, y in s["geometry"]["coordinates"]],
                   cruise_kmh=rng.uniform(25, 45), speeder=n % 3 == 1) for n, s in enumerate(chosen)]
    first = shapely.LineString(fleet[0].route)
    crossed = [c for c in cells if shapely.geometry.shape(c["geometry"]).intersects(first)]
    restricted = crossed[len(crossed) // 2] if crossed else cells[0]
    polygon = shapely.geometry.shape(restricted["geometry"])
    assert isinstance(polygon, shapely.Polygon), "cells are polygons"
    return fleet, polygon, str(restricted["properties"]["code"])


def provision(settings: Settings, trucks: list[Truck]) -> None:
    """Register the trucks (idempotent: a second run finds them and gives them new secrets, so new codes). No broker
    account is kept in step: the trucks speak JT/T 808, not MQTT."""
    from civicgrid.broker.provisioning import DeviceSpec, upsert_linked_devices

    upsert_linked_devices(settings, [DeviceSpec(t.phone, KIND) for t in trucks], broker=None)


def next_fix(truck: Truck, restricted: shapely.Polygon, dt_s: float, now: datetime) -> Fix:
    lon, lat, heading, frac = truck.position()
    speeding = truck.speeder and 1 / 3 <= frac % 0.5 * 2 <= 2 / 3  # the middle third of each way
    speed = random.uniform(70, 85) if speeding else truck.cruise_kmh * random.uniform(0.8, 1.1)
    truck.travelled_m += speed / 3.6 * dt_s
    truck.mileage_km += speed / 3.6 * dt_s / 1000
    inside = restricted.contains(shapely.Point(lon, lat))
    alarm = (ALARM_OVERSPEED if speed > SPEED_LIMIT_KMH else 0) | (ALARM_AREA if inside or truck.inside else 0)
    fix = Fix(lon, lat, now, speed_kmh=round(speed, 1), heading=heading, alarm=alarm,
              mileage_km=round(truck.mileage_km, 1), overspeed_item=speed > SPEED_LIMIT_KMH,
              area=(RESTRICTED_AREA_ID, not inside) if inside != truck.inside else None)
    truck.inside = inside
    return fix


async def drive(truck: Truck, host: str, port: int, restricted: shapely.Polygon, interval_s: float,
                stop: asyncio.Event) -> None:
    backoff = 1.0
    while not stop.is_set():
        terminal = Terminal(truck.phone, plate=truck.plate, edition=2019 if truck.phone[-1] in "02468" else 2013)
        try:
            await terminal.connect(host, port)
            if truck.code is None:
                truck.code = await terminal.register()
            await terminal.authenticate(truck.code)
            backoff = 1.0
            while not stop.is_set():
                fix = next_fix(truck, restricted, interval_s, datetime.now(UTC).replace(microsecond=0))
                if await terminal.report(fix) == 0:
                    truck.reports += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval_s)
        except (OSError, TimeoutError, TerminalError) as exc:
            log.warning("truck %s: %s; again in %.0f s", truck.phone, exc, backoff)
            if isinstance(exc, TerminalError) and "authentication" in str(exc):
                truck.code = None  # its secret was rotated: register again
        finally:
            await terminal.close()
        try:
            await asyncio.wait_for(stop.wait(), backoff)
        except TimeoutError:
            backoff = min(backoff * 2, 60.0)


async def run_fleet(trucks: list[Truck], host: str, port: int, restricted: shapely.Polygon, interval_s: float,
                    duration_s: float) -> dict[str, Any]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(drive(t, host, port, restricted, interval_s, stop)) for t in trucks]
    try:
        await asyncio.wait_for(stop.wait(), duration_s)
    except TimeoutError:
        pass
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"trucks": len(trucks), "reports": sum(t.reports for t in trucks)}


def simulate_jt808(
    city: Annotated[Path, typer.Option(help="A generated city directory (streets.geojson, cells.geojson).",
                                       exists=True, file_okay=False)],
    trucks: Annotated[int, typer.Option(help="Trucks with JT/T 808 terminals.")] = 6,
    interval_s: Annotated[float, typer.Option(help="Seconds between a truck's reports (real time).")] = 10.0,
    duration_s: Annotated[float, typer.Option(help="Wall seconds to run.")] = 604800.0,
    seed: Annotated[int, typer.Option()] = 1,
    host: Annotated[str | None, typer.Option(help="The JT/T 808 gateway; default: 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: jt808.listen_port.")] = None,
) -> None:
    """Drive the town's trucks (JT/T 808 terminals) along its streets: some speeding, some entering the restricted
    cell (docs/jt808.md, docs/simulators.md)."""
    from civicgrid import command_settings

    settings = command_settings.current()  # what the main `civicgrid` callback loaded (its --config)
    fleet, restricted, cell = plan_fleet(city, trucks, seed)
    provision(settings, fleet)
    port = port or settings.jt808.listen_port
    print(f"{len(fleet)} trucks to 127.0.0.1:{port}; {sum(t.speeder for t in fleet)} speeding; "
          f"restricted cell {cell} (area {RESTRICTED_AREA_ID})", flush=True)
    result = asyncio.run(run_fleet(fleet, host or "127.0.0.1", port, restricted, interval_s, duration_s))
    print(orjson.dumps(result).decode())
