"""The county-town scenario: every device of a generated city, simulated at N× real time in one process.

Simulated time runs from `start` at `speed` × wall time. The gateway refuses timestamps ahead
of its clock, so by default the run is placed in the past: it ends no later than now and starts
at 07:30 Beijing time (inspectors patrol 07:30–18:30), as many days back as needed.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from simulators.camera.fleet import ScriptedIncidents, fleet_from_city
from simulators.city import load_city_file
from simulators.devices import BinSensor, Fault, ManholeSensor, SimClock, SimContext, SimDevice
from simulators.mobile import CST, LABELLED_CATEGORY, PATROL_START, GpsTracker, Handheld

KINDS: dict[str, type[SimDevice]] = {"manhole-sensor": ManholeSensor, "bin-sensor": BinSensor,
                                     "gps-tracker": GpsTracker, "handheld": Handheld}


def default_start(duration_s: float, speed: float, now: datetime | None = None) -> datetime:
    """The latest 07:30 (Beijing) from which `duration_s` × `speed` of simulated time ends before `now`."""
    now = now or datetime.now(UTC)
    latest = now - timedelta(seconds=duration_s * speed + 10)
    local = latest.astimezone(CST)
    start = local.replace(hour=PATROL_START.hour, minute=PATROL_START.minute, second=0, microsecond=0)
    if start > local:
        start -= timedelta(days=1)
    return start.astimezone(UTC)


def today_start(now: datetime | None = None) -> datetime:
    """Today's 07:30 (Beijing), or yesterday's before 07:30: where a catching-up clock (`SimClock(catch_up=
    True)`) starts so that patrol hours fall on today and the run reaches the present at `speed`."""
    local = (now or datetime.now(UTC)).astimezone(CST)
    start = local.replace(hour=PATROL_START.hour, minute=PATROL_START.minute, second=0, microsecond=0)
    if start > local - timedelta(minutes=1):
        start -= timedelta(days=1)
    return start.astimezone(UTC)


def labelled_components(city_dir: Path, category: str = LABELLED_CATEGORY) -> list[tuple[str, float, float]]:
    """The city's components that handhelds report by photographing their QR label: (code, lon, lat)."""
    path = city_dir / "components.geojson"
    if not path.exists():
        return []
    features = orjson.loads(path.read_bytes())["features"]
    return [(f["properties"]["code"], *f["geometry"]["coordinates"][:2]) for f in features
            if f["properties"].get("category_code") == category]


def _patrol_spec(spec: dict[str, Any], skip: dict[str, float], speed: float | None) -> dict[str, Any]:
    if spec["kind"] != "handheld":
        return spec
    fraction = skip.get(spec["id"], skip.get(spec.get("inspector") or "", 0.0))
    return {**spec, "skip_fraction": fraction or spec.get("skip_fraction"),
            "patrol_speed_mps": speed or spec.get("patrol_speed_mps")}


class Scenario:
    def __init__(self, city_dir: Path | str, host: str, port: int, *, speed: float = 60.0, seed: int = 0,
                 fault_rate: float = 0.01, report_rate: float = 0.02, intervals: dict[str, float] | None = None,
                 start: datetime | None = None, duration_s: float = 3600.0, kinds: set[str] | None = None,
                 limit: int | None = None, api_url: str | None = None, skip: dict[str, float] | None = None,
                 patrol_speed_mps: float | None = None, shard: tuple[int, int] = (0, 1),
                 tls_ca: Path | None = None, today: bool = False) -> None:
        """`skip`: inspector username or handheld id → fraction of its patrol route never walked;
        `tls_ca`: connect over TLS (to `port`, the broker's TLS listener), trusting this CA;
        `patrol_speed_mps`: every handheld's mean speed (default 1.2 m/s, walking);
        `shard` (i, n): this process runs every n-th device from the i-th (a fleet split over processes);
        `today`: start at today's 07:30 and run at `speed` until the present, then at 1× (`today_start`)."""
        self.dir = Path(city_dir)
        self.city = load_city_file(self.dir)
        secrets: dict[str, str] = orjson.loads((self.dir / "secrets.json").read_bytes())
        self.duration_s = duration_s
        if today:
            self.clock = SimClock(start or today_start(), speed, catch_up=True)
        else:
            self.clock = SimClock(start or default_start(duration_s, speed), speed)
        self.ctx = SimContext(host, port, self.clock, seed=seed, fault_rate=fault_rate, report_rate=report_rate,
                              intervals=dict(intervals or {}), api_url=api_url, tls_ca=tls_ca)
        self.ctx.labelled = labelled_components(self.dir)
        specs = [d for d in self.city["devices"] if d["kind"] in KINDS and (kinds is None or d["kind"] in kinds)
                 and d["id"] in secrets]
        specs = [_patrol_spec(d, skip or {}, patrol_speed_mps) for d in specs]
        self.devices = [KINDS[d["kind"]](d, secrets[d["id"]], self.ctx) for d in specs[:limit][shard[0]::shard[1]]]
        # ONVIF cameras run in wall time (their snapshots are now), on the ports the city gave them.
        self.cameras = fleet_from_city(self.city, secrets) if kinds is None or "camera" in kinds else None
        self.incidents = ScriptedIncidents(self.cameras, self.city, seed=seed) if self.cameras else None
        self.started_at: float | None = None

    @property
    def faults(self) -> list[Fault]:
        return self.ctx.faults

    def sent_total(self) -> int:
        return sum(self.ctx.sent.values())

    async def run(self, duration_s: float | None = None) -> dict[str, Any]:
        """Run every device for `duration_s` wall seconds (default: the one the start was chosen for)."""
        duration_s = self.duration_s if duration_s is None else duration_s
        self.clock.t0 = time.monotonic()
        self.started_at = time.monotonic()
        if self.ctx.api_url:
            self.ctx.http = httpx.AsyncClient()
        tasks = [asyncio.create_task(d.run(), name=d.id) for d in self.devices]
        if self.cameras is not None and self.incidents is not None:
            await self.cameras.start()
            tasks.append(asyncio.create_task(self.incidents.run(self.ctx.stopping), name="camera-incidents"))
        try:
            await asyncio.wait_for(self.ctx.stopping.wait(), duration_s)
        except TimeoutError:
            pass
        finally:
            self.ctx.stopping.set()
            # Devices finish the publish in flight (so every counted message was acknowledged) and disconnect.
            _, pending = await asyncio.wait(tasks, timeout=30)
            for t in pending:
                t.cancel()
            if self.ctx.http is not None:
                await self.ctx.http.aclose()
            if self.cameras is not None:
                await self.cameras.stop()
        return self.summary()

    def stop(self) -> None:
        self.ctx.stopping.set()

    def summary(self) -> dict[str, Any]:
        wall = time.monotonic() - self.started_at if self.started_at else 0.0
        return {"devices": Counter(d.kind for d in self.devices), "sent": dict(self.ctx.sent),
                "sent_total": self.sent_total(), "errors": dict(self.ctx.errors),
                "msgs_per_s": self.sent_total() / wall if wall else 0.0, "wall_s": wall,
                "sim_now": self.clock.now().isoformat(), "faults": Counter(f.kind for f in self.ctx.faults),
                "reports": len(self.ctx.reports), "photos": dict(self.ctx.uploads),
                "labelled_reports": self.ctx.labelled_reports}

    def write_record(self, path: Path, platform: dict[str, Any] | None = None) -> None:
        """The injected faults and the counts (and what the platform made of them), for checking a run afterwards."""
        data = {"summary": self.summary(), "faults": [asdict(f) for f in self.ctx.faults],
                "reports": self.ctx.reports, "platform": platform or {}}
        path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str))
