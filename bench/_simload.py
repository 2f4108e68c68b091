"""Shared by the benchmarks: the simulated city's devices offering a chosen message rate (not itself a benchmark).

The simulators publish what real devices publish (their own MQTT logins, QoS 1, JSON
with `seq`/`ts`, NMEA for trackers); a rate is reached by running the city faster:
each device keeps its reporting interval in simulated time, so the fleet's rate is its
natural rate × `speed`. One simulator process tops out at a few hundred messages/s
(each device is its own MQTT client), so the fleet is split over `processes`, each
running every n-th device. `SimLoad(city_dir, settings, rate).run(seconds)` returns the
summed summaries (messages the broker acknowledged, per channel) and the processes' pids.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from civicgrid.settings import Settings
from simulators.scenario import Scenario, default_start

# Messages per reading, per kind (a tracker sends RMC + GGA, and telemetry every 12th fix).
MSGS_PER_READING = {"manhole-sensor": 1.0, "bin-sensor": 1.0, "gps-tracker": 2.0 + 1 / 12, "handheld": 1.1}


def natural_rate(scenario: Scenario) -> float:
    """Messages per simulated second of the scenario's fleet at speed 1."""
    return sum(MSGS_PER_READING.get(d.kind, 1.0) / d.interval_s for d in scenario.devices)


def _run_shard(args: tuple) -> dict[str, Any]:
    city_dir, host, port, speed, seed, fault_rate, duration_s, kinds, start, shard, marks = args
    scenario = Scenario(city_dir, host, port, speed=speed, seed=seed, fault_rate=fault_rate, report_rate=0.0,
                        duration_s=duration_s, kinds=kinds, start=start, shard=shard)
    at_marks: list[int] = []

    async def main() -> dict[str, Any]:
        async def watch() -> None:  # messages sent at the window's two wall-clock marks
            for mark in marks:
                await asyncio.sleep(max(0.0, mark - time.time()))
                at_marks.append(scenario.sent_total())

        watcher = asyncio.create_task(watch())
        summary = await scenario.run(max(1.0, marks[-1] + 0.5 - time.time()))
        watcher.cancel()
        return summary

    summary = asyncio.run(main())
    return {"sent": dict(summary["sent"]), "errors": dict(summary["errors"]), "sent_total": summary["sent_total"],
            "window": at_marks[1] - at_marks[0] if len(at_marks) == 2 else 0}


class SimLoad:
    def __init__(self, city_dir: Path, settings: Settings, rate: float, *, kinds: set[str] | None = None,
                 seed: int = 0, fault_rate: float = 0.0, duration_s: float = 60.0, processes: int = 2,
                 warmup_s: float = 10.0) -> None:
        probe = Scenario(city_dir, settings.mqtt.host, settings.mqtt.port, speed=1.0, kinds=kinds)
        self.device_ids = [d.id for d in probe.devices]
        self.speed = rate / natural_rate(probe)
        self.rate, self.processes = rate, processes
        # The whole run (start-up, warm-up, hold) must end before now: the gateway refuses device times
        # from the future, and at hundreds of × a few seconds of wall time are hours of simulated time.
        self.warmup_s = warmup_s
        self.start: datetime = default_start(duration_s + warmup_s + 30.0, self.speed)
        self.hold_s = duration_s
        self.args = [(Path(city_dir), settings.mqtt.host, settings.mqtt.port, self.speed, seed, fault_rate,
                      duration_s, kinds, self.start, (i, processes)) for i in range(processes)]

    def run(self) -> dict[str, Any]:
        """Start the shards, let them connect for the warm-up, then hold the rate for the duration.

        Returns the summed counts, the wall-clock window (`window`: start, end) and `offered_msgs_per_s`:
        the messages the broker acknowledged inside the window, per second.
        """
        window = (time.time() + self.warmup_s, time.time() + self.warmup_s + self.hold_s)
        with multiprocessing.get_context("spawn").Pool(self.processes) as pool:
            parts = pool.map(_run_shard, [(*a, window) for a in self.args])
        sent: Counter = Counter()
        errors: Counter = Counter()
        for part in parts:
            sent.update(part["sent"])
            errors.update(part["errors"])
        return {"sent": dict(sent), "errors": dict(errors), "sent_total": sum(sent.values()), "window": window,
                "offered_msgs_per_s": sum(p["window"] for p in parts) / self.hold_s}
