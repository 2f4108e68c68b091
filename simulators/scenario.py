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

import orjson

from simulators.city import load_city_file
from simulators.devices import BinSensor, Fault, ManholeSensor, SimClock, SimContext, SimDevice
from simulators.mobile import CST, PATROL_START, GpsTracker, Handheld

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


class Scenario:
    def __init__(self, city_dir: Path | str, host: str, port: int, *, speed: float = 60.0, seed: int = 0,
                 fault_rate: float = 0.01, report_rate: float = 0.02, intervals: dict[str, float] | None = None,
                 start: datetime | None = None, duration_s: float = 3600.0, kinds: set[str] | None = None,
                 limit: int | None = None) -> None:
        self.dir = Path(city_dir)
        self.city = load_city_file(self.dir)
        secrets: dict[str, str] = orjson.loads((self.dir / "secrets.json").read_bytes())
        self.duration_s = duration_s
        self.clock = SimClock(start or default_start(duration_s, speed), speed)
        self.ctx = SimContext(host, port, self.clock, seed=seed, fault_rate=fault_rate, report_rate=report_rate,
                              intervals=dict(intervals or {}))
        specs = [d for d in self.city["devices"] if d["kind"] in KINDS and (kinds is None or d["kind"] in kinds)
                 and d["id"] in secrets]
        self.devices = [KINDS[d["kind"]](d, secrets[d["id"]], self.ctx) for d in specs[:limit]]
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
        tasks = [asyncio.create_task(d.run(), name=d.id) for d in self.devices]
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
        return self.summary()

    def stop(self) -> None:
        self.ctx.stopping.set()

    def summary(self) -> dict[str, Any]:
        wall = time.monotonic() - self.started_at if self.started_at else 0.0
        return {"devices": Counter(d.kind for d in self.devices), "sent": dict(self.ctx.sent),
                "sent_total": self.sent_total(), "errors": dict(self.ctx.errors),
                "msgs_per_s": self.sent_total() / wall if wall else 0.0, "wall_s": wall,
                "sim_now": self.clock.now().isoformat(), "faults": Counter(f.kind for f in self.ctx.faults),
                "reports": len(self.ctx.reports)}

    def write_record(self, path: Path) -> None:
        """The injected faults and the counts, for checking a run afterwards."""
        data = {"summary": self.summary(), "faults": [asdict(f) for f in self.ctx.faults],
                "reports": self.ctx.reports}
        path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str))
