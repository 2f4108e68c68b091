"""Soak: the simulated county town at a fixed offered rate for N minutes; broker CPU and lag must stay flat.

Why: the broker the stack used before Apache Kafka (Tansu's memory engine) listed every
record batch it held on each fetch, so its CPU grew with every record ever produced and
`make run` fell behind within ten minutes. A benchmark over minutes cannot see that; this
one runs long enough to.

Method (all on this machine, against a throwaway stack this script starts):
1. The county town `make run` runs (`city generate --seed 1`: sensors, street lights, GPS
   trackers, inspectors' handhelds) is generated and loaded; the gateway, one stream
   worker (all roles) and the API run beside the stack as in `make run` (cameras apart:
   their snapshots are a separate load, measured by bench/cameras.py).
2. The simulators offer `--rate` messages/s (default: the town at `make run`'s 60×), each
   device its own MQTT login at QoS 1, for `--minutes`. A probe bin sensor publishes every
   second; the time from its publish to its row in `telemetry` is the end-to-end lag.
3. Once a minute, one line: the broker's CPU (cores), each service's CPU, the broker's
   resident memory, the lag's p50/p99/max over that minute, the rows stored so far.
4. After the run: every telemetry/event message the broker acknowledged must be a row
   (`telemetry`, `device_events`) or a dead letter the gateway counted; the rest is lost.

Last line: JSON with minutes, offered_msgs_per_s, broker_cpu_first_5min, broker_cpu_last_5min,
lag_p99_s and lost (docs/benchmarks.md), plus the per-minute rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import LatencyProbe, cpu_seconds, gateway_counts, percentile, rss_mib, stored
from _simload import SimLoad, natural_rate

from civicgrid.broker.provisioning import add_device
from civicgrid.broker.sync import wait_for_login
from civicgrid.settings import Settings
from civicgrid.stack.ephemeral import ephemeral_settings, throwaway_stack
from civicgrid.stack.mosquitto import local_broker
from civicgrid.stack.services import spawn_gateway, spawn_service, stop_service
from civicgrid.store.city import load_city
from civicgrid.store.db import connect
from simulators.city import generate_city
from simulators.scenario import Scenario

BROKER = "kafka"
MAKE_RUN_SPEED = 60.0  # `civicgrid run --speed` default


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rows_stored(settings: Settings) -> dict[str, int]:
    with connect(settings.db, autocommit=True) as conn:
        return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("telemetry", "device_events", "track_points", "alarms")}


class MinuteSampler:
    """Every `every_s`: CPU of each process over the interval, broker RSS, probe lag in the interval, rows."""

    def __init__(self, settings: Settings, pids: dict[str, int], probe: LatencyProbe, every_s: float = 60.0) -> None:
        self.settings, self.pids, self.probe, self.every_s = settings, pids, probe, every_s
        self.minutes: list[dict] = []
        self.stop = threading.Event()

    def run(self) -> None:
        cpu0 = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        t0, seen, missed0 = time.monotonic(), 0, 0
        while not self.stop.wait(max(0.0, t0 + self.every_s * (len(self.minutes) + 1) - time.monotonic())):
            now = time.monotonic()
            elapsed = now - (t0 + self.every_s * len(self.minutes))
            cpu1 = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
            lags = [ms / 1000 for _, ms in self.probe.latencies_ms[seen:]]
            seen = len(self.probe.latencies_ms)
            row = {
                "minute": len(self.minutes) + 1,
                "broker_cpu": round((cpu1[BROKER] - cpu0[BROKER]) / elapsed, 3),
                "cpu": {name: round((cpu1[name] - cpu0[name]) / elapsed, 3) for name in self.pids},
                "broker_rss_mib": round(rss_mib(self.pids[BROKER])),
                "lag_p50_s": _round(percentile(lags, 0.5)), "lag_p99_s": _round(percentile(lags, 0.99)),
                "lag_max_s": _round(max(lags, default=None)), "lag_samples": len(lags),
                "probe_missed": self.probe.missed - missed0,
                "rows": rows_stored(self.settings),
            }
            missed0 = self.probe.missed
            cpu0 = cpu1
            self.minutes.append(row)
            cpus = " ".join(f"{name} {v:.2f}" for name, v in row["cpu"].items())
            say(f"minute {row['minute']:3d}: broker cpu {row['broker_cpu']:.2f} rss {row['broker_rss_mib']} MiB | "
                f"lag p50 {row['lag_p50_s']} p99 {row['lag_p99_s']} max {row['lag_max_s']} s | cpu {cpus} | "
                f"rows {row['rows']}")


def broker_trend(cpu: list[float]) -> dict[str, float | None]:
    """The broker's CPU over the run: minutes 2-6 (the first is the JVM's JIT warming up) and the least-squares
    slope in cores per minute (a broker whose cost grows with what it holds has a positive slope)."""
    n = len(cpu)
    slope = None
    if n > 1:
        mean_x, mean_y = (n - 1) / 2, sum(cpu) / n
        slope = round(sum((x - mean_x) * (y - mean_y) for x, y in enumerate(cpu))
                      / sum((x - mean_x) ** 2 for x in range(n)), 5)
    return {"broker_cpu_minutes_2_to_6": _mean(cpu[1:6]), "broker_cpu_slope_per_min": slope}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=None,
                        help="offered msg/s (default: the county town at make run's 60×)")
    parser.add_argument("--processes", type=int, default=1, help="simulator processes (one does ~1,000 msg/s)")
    parser.add_argument("--keep", action="store_true", help="keep the stack's directory (logs)")
    args = parser.parse_args()

    settings = ephemeral_settings(prefix="civicgrid-bench-")
    base = settings.stack.var_dir.parent
    city = base / "city"
    generate_city(1, out_dir=city)  # the town of `make run`
    procs = []
    broker = local_broker(settings)
    with throwaway_stack(settings, keep=args.keep, progress=lambda m: say(f"stack {m}")) as stack:
        try:
            # Provisions the devices: their secrets the simulators use.
            say(f"city: {load_city(settings, city, broker=broker)}")
            rate = args.rate or natural_rate(Scenario(city, settings.mqtt.host, settings.mqtt.port)) * MAKE_RUN_SPEED
            probe_id = "bench-probe-bin"
            probe_secret = add_device(settings, probe_id, "bin-sensor", broker=broker).secret
            if not wait_for_login(settings, broker, probe_id, probe_secret):
                raise SystemExit("the broker never accepted the probe device's login")
            gateway = spawn_gateway(settings, base / "gateway.log")
            worker = spawn_service("worker", settings, base / "worker.log")
            api = spawn_service("api", settings, base / "api.log")
            procs = [gateway, worker, api]
            time.sleep(5)  # the worker's consumer groups join
            pids = {"gateway": gateway.pid, "worker": worker.pid, "api": api.pid,
                    **{s.name: s.pid for s in stack.status() if s.pid}}
            probe = LatencyProbe(settings, probe_id, probe_secret, every_s=1.0, give_up_s=120.0)
            load = SimLoad(city, settings, rate, seed=1, fault_rate=0.01, duration_s=args.minutes * 60,
                           processes=args.processes, warmup_s=10.0)
            say(f"offering {rate:,.0f} msg/s from {len(load.device_ids)} simulated devices at {load.speed:.0f}× "
                f"for {args.minutes:g} min")
            refused0 = gateway_counts(settings)
            prober = threading.Thread(target=probe.run, daemon=True)
            sampler = MinuteSampler(settings, pids, probe)
            sampling = threading.Thread(target=sampler.run, daemon=True)
            prober.start()
            sampling.start()
            summary = load.run()
            sampler.stop.set()
            sampling.join(10)
            sent = sum(summary["sent"].get(ch, 0) for ch in ("telemetry", "event"))
            ids = [*load.device_ids, probe_id]
            probe.stop.set()
            prober.join(130)
            probe.close()
            expected = sent + probe.seq
            have, refused = settle(settings, ids, expected, refused0)
        finally:
            for proc in procs:
                stop_service(proc)
    print(json.dumps(report(sampler.minutes, probe, rate, summary, expected, have, refused)))


def settle(settings: Settings, ids: list[str], expected: int, refused0: dict[str, float],
           timeout_s: float = 120.0) -> tuple[int, float]:
    """Wait until every acknowledged message is a row or a counted refusal (or time is up): (rows, refused)."""
    deadline, have, refused = time.monotonic() + timeout_s, 0, 0.0
    while time.monotonic() < deadline:
        have = stored(settings, ids)
        refused = sum(v - refused0.get(k, 0.0) for k, v in gateway_counts(settings).items())
        if have + refused >= expected:
            break
        time.sleep(1)
    return have, refused


def report(minutes: list[dict], probe: LatencyProbe, rate: float, summary: dict, expected: int, have: int,
           refused: float) -> dict:
    all_lags = [ms / 1000 for _, ms in probe.latencies_ms]
    first, last = minutes[:5], minutes[-5:]
    cpu = [m["broker_cpu"] for m in minutes]
    return {
        **broker_trend(cpu),
        "minutes": len(minutes), "offered_msgs_per_s": round(rate, 1),
        "simulators_msgs_per_s": round(summary["offered_msgs_per_s"], 1),
        "broker_cpu_first_5min": _mean([m["broker_cpu"] for m in first]),
        "broker_cpu_last_5min": _mean([m["broker_cpu"] for m in last]),
        "broker_rss_mib_last": last[-1]["broker_rss_mib"] if last else None,
        "lag_p50_s": _round(percentile(all_lags, 0.5)), "lag_p99_s": _round(percentile(all_lags, 0.99)),
        "lag_max_s": _round(max(all_lags, default=None)), "probe_missed": probe.missed,
        "lost": max(0, round(expected - have - refused)), "sent": expected, "gateway_refused": round(refused),
        "errors": summary["errors"], "cpu_count": os.cpu_count(), "per_minute": minutes,
    }


if __name__ == "__main__":
    main()
