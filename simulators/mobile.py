"""Moving devices: GPS trackers on vehicles (raw NMEA 0183) and inspectors' handhelds (城管通)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

import httpx
import orjson

from simulators import nmea
from simulators.city import distance_m
from simulators.devices import SimContext, SimDevice, iso
from simulators.patrol_routes import truncate
from simulators.photos import LABEL_PREFIX, photo_id, render_photo, upload_photo

log = logging.getLogger(__name__)
PHOTO = "photo"  # not an MQTT channel: the photo's HTTP upload, queued with the readings

CST = timezone(timedelta(hours=8))
PATROL_START, PATROL_END = time(7, 30), time(18, 30)  # docs/patrol.md
LABELLED_CATEGORY = "C0305"  # 垃圾箱破损: reported with a photo of the bin's QR label when one is in reach
LABEL_REACH_M = 150.0
REPORT_CATEGORIES = [("E0102", "路边暴露垃圾"), ("E0104", "道路不洁，有散落物"), ("E0103", "积存垃圾渣土"),
                     ("E0107", "路边废弃车辆"), ("E0108", "废弃家具堆放"), ("C0305", "垃圾箱破损")]


def on_patrol(t: datetime) -> bool:
    local = t.astimezone(CST).time()
    return PATROL_START <= local < PATROL_END


class Route:
    """Position along a polyline at a distance (m); `loop` closes it, otherwise it is walked back and forth."""

    def __init__(self, points: list[list[float]], loop: bool) -> None:
        pts = [tuple(p) for p in points]
        if not loop and len(pts) > 1:
            pts = pts + pts[-2::-1]  # there and back
        self.points = pts
        self.lengths = [distance_m(*a, *b) for a, b in itertools.pairwise(pts)]
        self.total = sum(self.lengths)

    def at(self, s: float) -> tuple[float, float, float]:
        """(lon, lat, heading°) at `s` metres from the start (modulo the route's length)."""
        if self.total <= 0:
            lon, lat = self.points[0]
            return lon, lat, 0.0
        s %= self.total
        for (a, b), seg in zip(itertools.pairwise(self.points), self.lengths, strict=True):
            if s <= seg and seg > 0:
                f = s / seg
                lon, lat = a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f
                heading = math.degrees(math.atan2((b[0] - a[0]) * math.cos(math.radians(lat)), b[1] - a[1])) % 360
                return lon, lat, heading
            s -= seg
        lon, lat = self.points[-1]
        return lon, lat, 0.0


class GpsTracker(SimDevice):
    kind = "gps-tracker"
    default_interval_s = 5.0

    def __init__(self, spec: dict[str, Any], secret: str, ctx: SimContext) -> None:
        super().__init__(spec, secret, ctx)
        self.route = Route(spec["route"], loop=True)
        self.s = self.rng.uniform(0, max(self.route.total, 1))
        self.last: datetime | None = None
        self.ticks = 0

    def readings(self, now: datetime) -> list[tuple[str, bytes]]:
        speed = max(0.0, self.rng.gauss(8.0, 1.5))  # ~30 km/h in town
        if self.last is not None:
            self.s += speed * (now - self.last).total_seconds()
        self.last = now
        lon, lat, heading = self.route.at(self.s)
        t = now.astimezone(UTC)
        raw = nmea.rmc(t, lon, lat, speed, heading) + nmea.gga(
            t, lon, lat, satellites=self.rng.randint(7, 16), hdop=round(self.rng.uniform(0.6, 1.6), 1),
            altitude_m=round(self.rng.uniform(25, 40), 1))
        out = [("track", raw.encode())]
        self.ticks += 1
        if self.ticks % 12 == 1:
            out.append(("telemetry", self.payload(now, battery_pct=round(self.rng.uniform(80, 100), 1),
                                                  external_power=True, signal_dbm=self.signal())))
        return out

    def signal(self) -> float:
        return round(self.rng.uniform(-95, -60), 1)



class Handheld(SimDevice):
    """Walks its responsibility grid at walking speed during patrol hours, streams a track, files reports
    and answers verification/check tasks sent to it as commands (`cmd` → `cmd/ack` + a report)."""

    kind = "handheld"
    default_interval_s = 30.0

    def __init__(self, spec: dict[str, Any], secret: str, ctx: SimContext) -> None:
        super().__init__(spec, secret, ctx)
        # The grid's streets there and back (simulators/patrol_routes.py); `skip_fraction` leaves the
        # route's last part unwalked, `patrol_speed_mps` walks (1.2) or rides an e-bike (3.5).
        self.route = Route(truncate(spec["route"], 1.0 - float(spec.get("skip_fraction") or 0.0)), loop=False)
        self.speed_mps = float(spec.get("patrol_speed_mps") or 1.2)
        self.s = self.rng.uniform(0, max(self.route.total, 1))
        self.last: datetime | None = None
        self.on_duty = False
        self.ticks = 0
        self.reports = 0
        self.battery = 100.0
        self.pos = self.route.at(self.s)
        self.tasks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def report(self, now: datetime, kind: str = "report", **extra: Any) -> list[tuple[str, bytes]]:
        """The report, preceded by its photo's upload when the scenario has an API to upload to."""
        self.reports += 1
        # The simulated start in the id: a second run of the same city files new reports, not re-deliveries.
        report_id = f"{self.id}-{int(self.ctx.clock.start.timestamp()):x}-r{self.reports:05d}"
        category, description = extra.pop("category", None) or self.rng.choice(REPORT_CATEGORIES)
        out: list[tuple[str, bytes]] = []
        if self.ctx.api_url:
            # A damaged bin near by: its label is photographed, its id not typed (the platform reads the label).
            labelled = self.labelled_near() if category == LABELLED_CATEGORY and "component_code" not in extra \
                else None
            jpeg = render_photo(report_id, category, self.rng, label=labelled and f"{LABEL_PREFIX}{labelled}")
            out.append((PHOTO, jpeg))
            extra["photo_ids"] = [photo_id(jpeg)]
            self.ctx.labelled_reports += labelled is not None
        self.ctx.reports.append((self.id, report_id))
        lon, lat, _ = self.pos
        return [*out, ("report", self.payload(now, report_id=report_id, kind=kind, category_code=category,
                                               description=description, lon=round(lon, 7), lat=round(lat, 7),
                                               **extra))]

    def labelled_near(self, within_m: float = LABEL_REACH_M) -> str | None:
        """The nearest labelled component within reach of where the inspector stands, if any."""
        lon, lat, _ = self.pos
        near = min(((distance_m(lon, lat, c_lon, c_lat), code) for code, c_lon, c_lat in self.ctx.labelled),
                   default=None)
        return near[1] if near is not None and near[0] <= within_m else None

    async def publish(self, channel: str, body: bytes) -> None:
        if channel != PHOTO:
            await super().publish(channel, body)
            return
        try:  # over HTTP, before the report that names it
            await upload_photo(self.ctx.http, self.ctx.api_url, self.id, self.secret, body)
            self.ctx.uploads["ok"] += 1
        except httpx.HTTPError as exc:
            self.ctx.uploads["failed"] += 1
            self.ctx.errors["photo_upload"] += 1
            log.warning("%s: photo upload failed: %s", self.id, exc)

    def readings(self, now: datetime) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        duty = on_patrol(now)
        if duty != self.on_duty:
            self.on_duty = duty
            out.append(("event", self.payload(now, type="sign_in" if duty else "sign_out")))
        self.ticks += 1
        if duty:
            speed = max(0.3, self.rng.gauss(self.speed_mps, self.speed_mps / 6))
            if self.last is not None:
                self.s += speed * (now - self.last).total_seconds()
            self.pos = self.route.at(self.s)
            lon, lat, heading = self.pos
            out.append(("track", self.payload(now, lon=round(lon, 7), lat=round(lat, 7),
                                              accuracy_m=round(self.rng.uniform(3, 8), 1),
                                              speed_mps=round(speed, 2), heading_deg=round(heading, 1))))
            if self.rng.random() < self.ctx.report_rate:
                out += self.report(now)
            self.battery = max(30.0, self.battery - 0.05)
        self.last = now
        while not self.tasks.empty():
            out += self.answer(now, self.tasks.get_nowait())
        if self.ticks % 10 == 1:
            out.append(("telemetry", self.payload(now, battery_pct=round(self.battery, 1),
                                                  signal_dbm=round(self.rng.uniform(-90, -60), 1))))
        return out

    def answer(self, now: datetime, command: dict[str, Any]) -> list[tuple[str, bytes]]:
        args = command.get("args") or {}
        name = command.get("name")
        ack = {"command_id": command.get("command_id", ""), "status": "ok", "detail": ""}
        if name not in ("verify", "check"):
            ack.update(status="failed", detail=f"unknown command {name!r}")
            return [("cmd/ack", orjson.dumps(ack))]
        task_id = str(args.get("task_id", command.get("command_id", "")))[:64]
        positive = self.task_result(name)
        text = {("verify", True): "核实属实", ("verify", False): "现场未发现所述问题",
                ("check", True): "核查已处置", ("check", False): "核查未处置，需返工"}[name, positive]
        category = (str(args.get("category_code", "E0102")), text)
        result = {("verify", True): "confirmed", ("verify", False): "not_found",
                  ("check", True): "fixed", ("check", False): "not_fixed"}[name, positive]
        return [("cmd/ack", orjson.dumps(ack)), ("event", self.payload(now, type="task_received", task_id=task_id)),
                *self.report(now, "verification" if name == "verify" else "check", category=category,
                             task_id=task_id, result=result)]

    def task_result(self, name: str) -> bool:
        """The inspector's finding: the problem is there (verify) / solved (check), except at the scenario's
        rates (no draw at a zero rate, so runs without them replay exactly as before)."""
        rate = self.ctx.refute_rate if name == "verify" else self.ctx.check_fail_rate
        return rate <= 0 or self.rng.random() >= rate

    async def loop(self) -> None:
        assert self.client is not None
        await self.client.subscribe(f"cg/{self.id}/cmd", qos=1)
        listener = asyncio.create_task(self.listen())
        try:
            await super().loop()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def listen(self) -> None:
        assert self.client is not None
        async for message in self.client.messages:
            with contextlib.suppress(orjson.JSONDecodeError):
                body = orjson.loads(message.payload)
                if isinstance(body, dict):
                    self.tasks.put_nowait(body)


__all__ = ["GpsTracker", "Handheld", "Route", "iso", "on_patrol"]
