"""End to end with the simulators: simulated devices → MQTT → gateway → Kafka → streams → hypertable rows.

Method (all on this machine, against a throwaway stack this script starts):
1. A generated city (manhole-cover and trash-bin sensors, each its own MQTT login) is
   loaded; one gateway process and one stream worker (all roles) run beside the stack.
2. For each offered rate of a ladder (`--rates`), the simulators run the city fast
   enough to offer that rate (bench/_simload.py) for `--hold-s` seconds. Meanwhile a
   probe sensor publishes a reading every 0.25 s and the time from its publish to its
   row being visible in `telemetry` is taken (ingest latency).
3. After the hold: every message the broker acknowledged must be a row (telemetry or
   device_events) or a dead letter the gateway counted (reported apart, by reason);
   the time the last rows need to arrive after the hold is the drain
   time, the bound on the backlog (Kafka lag) the hold built up. A step holds when
   nothing is lost, the drain is under `--max-drain-s`, and the simulators really
   offered ≥ 90 % of the rate; the ladder stops at the first step that does not.
4. CPU time of each process (gateway, worker, simulators, Mosquitto, Kafka,
   PostgreSQL with its backends) over the hold, as shares of the machine's capacity; and the
   cost per message: each platform process's CPU-µs from the hold's start to its last row,
   over the messages offered, and their sum (`platform`), the load generator excluded.

Last line: JSON with sustained_msgs_per_s, lost, ingest_p99_ms, cpu_share, cpu_us_per_msg (DESIGN.md).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _profile
from _measure import LatencyProbe, cpu_seconds, gateway_counts, percentile, stored
from _simload import SimLoad

from civicgrid.broker.provisioning import add_device
from civicgrid.broker.sync import wait_for_login
from civicgrid.settings import Settings
from civicgrid.stack.ephemeral import ephemeral_settings, throwaway_stack
from civicgrid.stack.mosquitto import local_broker
from civicgrid.stack.services import spawn_gateway, spawn_service, stop_service
from civicgrid.store.city import load_city
from simulators.city import generate_city

SENSORS = {"manhole-sensor", "bin-sensor"}


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- the ladder
def step(settings: Settings, city: Path, rate: float, hold_s: float, pids: dict[str, int], expected_before: int,
         max_drain_s: float, probe: LatencyProbe, processes: int, profile_dir: Path | None = None) -> dict:
    load = SimLoad(city, settings, rate, kinds=SENSORS, seed=int(rate), duration_s=hold_s, processes=processes)
    ids = load.device_ids
    say(f"offering {rate:,.0f} msg/s from {len(ids)} simulated sensors ({processes} processes) at "
        f"{load.speed:.0f}× for {hold_s:.0f} s")
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    refused0 = gateway_counts(settings)
    sims0, own0 = _children_cpu(), time.process_time()
    samples: list[tuple[float, int]] = []
    done = threading.Event()

    def sample() -> None:  # rows stored over time: the platform's rate inside the hold window
        while not done.is_set():
            samples.append((time.time(), stored(settings, ids)))
            done.wait(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    spies = {}
    if profile_dir is not None:  # py-spy on the Python services for the hold (docs/performance.md)
        spies = {name: (_profile.start(pids[name], profile_dir / f"{name}-{rate:.0f}.txt", hold_s),
                        profile_dir / f"{name}-{rate:.0f}.txt") for name in ("gateway", "worker")}
    t0 = time.monotonic()
    probe.latencies_ms.clear()
    sampler.start()
    summary = load.run()
    begin, end = summary["window"]
    done.set()
    sampler.join(5)
    wall = time.monotonic() - t0
    cpu = {name: round((cpu_seconds(pid) - cpu0[name]) / wall / os.cpu_count(), 3) for name, pid in pids.items()}
    cpu["simulators"] = round((_children_cpu() - sims0) / wall / os.cpu_count(), 3)
    cpu["bench (probe, sampler)"] = round((time.process_time() - own0) / wall / os.cpu_count(), 3)
    latencies = [ms for wall, ms in list(probe.latencies_ms) if begin <= wall <= end]
    sent = sum(summary["sent"].get(ch, 0) for ch in ("telemetry", "event"))
    expected = expected_before + sent
    drain_start, have, refused = time.monotonic(), 0, {}
    while time.monotonic() - drain_start < max(60.0, max_drain_s * 3):
        have = stored(settings, ids)
        refused = {k: v - refused0.get(k, 0.0) for k, v in gateway_counts(settings).items()
                   if v - refused0.get(k, 0.0)}
        if have + sum(refused.values()) >= expected:
            break
        time.sleep(0.2)
    drain_s = time.monotonic() - drain_start
    # Cost per message: each platform process's CPU from the hold's start to the last row (the drain included),
    # over the messages offered in the hold; the simulators and this script are not the platform.
    platform_s = {name: cpu_seconds(pid) - cpu0[name] for name, pid in pids.items()}
    cost = {name: round(s / sent * 1e6, 1) for name, s in platform_s.items()} if sent else {}
    if sent:
        cost["platform"] = round(sum(platform_s.values()) / sent * 1e6, 1)
    steady = [(t, n) for t, n in samples if begin <= t <= end]
    through = (steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0]) if len(steady) > 1 else 0.0
    result = {"offered_msgs_per_s": rate, "simulators_msgs_per_s": round(summary["offered_msgs_per_s"]),
              "achieved_msgs_per_s": round(through), "sent": sent,
              # A dead letter is recorded with its reason, not lost; a duplicate is dropped on purpose.
              "lost": max(0, expected - have - round(sum(refused.values()))), "gateway_refused": refused,
              "drain_s": round(drain_s, 2),
              "errors": summary["errors"],
              "ingest_p50_ms": _ms(percentile(latencies, 0.5)), "ingest_p99_ms": _ms(percentile(latencies, 0.99)),
              "latency_samples": len(latencies),
              "cpu_share": cpu, "cpu_us_per_msg": cost}
    if spies:
        for proc, _ in spies.values():
            proc.wait(hold_s + 60)
        result["profile"] = {name: _profile.top(out) for name, (_, out) in spies.items() if out.exists()}
    result["held"] = (result["lost"] == 0 and drain_s <= max_drain_s and through >= 0.9 * rate
                      and not summary["errors"])
    say(json.dumps(result))
    return result


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _children_cpu() -> float:
    """CPU of this process's finished children: the simulator processes once their pool has closed."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="500,1000,1500,2000,3000", help="offered rates, msg/s, ascending")
    parser.add_argument("--hold-s", type=float, default=60.0)
    parser.add_argument("--max-drain-s", type=float, default=5.0)
    parser.add_argument("--covers", type=int, default=600)
    parser.add_argument("--bins", type=int, default=300)
    parser.add_argument("--processes", type=int, default=0,
                        help="simulator processes sharing the fleet (default: one per 400 msg/s offered, at least 2; "
                             "one process publishes about 1,000 msg/s on a free core here)")
    parser.add_argument("--keep", action="store_true", help="keep the stack's directory (logs)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="sample the gateway and the worker with py-spy during each hold; raw stacks into this "
                             "directory, the top functions in each step's result")
    args = parser.parse_args()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)

    settings = ephemeral_settings(prefix="civicgrid-bench-")
    base = settings.stack.var_dir.parent
    procs = []
    broker = local_broker(settings)
    with throwaway_stack(settings, keep=args.keep, progress=lambda m: say(f"stack {m}")) as stack:
        try:
            city = base / "city"
            generate_city(1, 4.0, city, covers=args.covers, bins=args.bins, lights=0, trackers=0, inspectors=0)
            say(f"city: {load_city(settings, city, broker=broker)}")
            probe_id = "bench-probe-bin"
            probe_secret = add_device(settings, probe_id, "bin-sensor", broker=broker).secret
            if not wait_for_login(settings, broker, probe_id, probe_secret):
                raise SystemExit("the broker never accepted the probe device's login")
            probe = LatencyProbe(settings, probe_id, probe_secret)
            gateway = spawn_gateway(settings, base / "gateway.log")
            worker = spawn_service("worker", settings, base / "worker.log")
            procs = [gateway, worker]
            time.sleep(5)  # the worker's consumer groups join
            pids = {"gateway": gateway.pid, "worker": worker.pid,
                    **{s.name: s.pid for s in stack.status() if s.pid}}
            prober = threading.Thread(target=probe.run, daemon=True)
            prober.start()
            steps, expected = [], 0
            for rate in (float(r) for r in args.rates.split(",")):
                processes = args.processes or max(2, math.ceil(rate / 400))
                result = step(settings, city, rate, args.hold_s, pids, expected, args.max_drain_s, probe, processes,
                              args.profile)
                expected += result["sent"] - result["lost"]
                steps.append(result)
                if not result["held"]:
                    break
            probe.stop.set()
            prober.join(5)
            probe.close()
        finally:
            for proc in procs:
                stop_service(proc)
    held = [s for s in steps if s["held"]]
    best = max(held, key=lambda s: s["achieved_msgs_per_s"]) if held else steps[0]
    print(json.dumps({"sustained_msgs_per_s": best["achieved_msgs_per_s"] if held else 0,
                      "lost": sum(s["lost"] for s in steps), "ingest_p50_ms": best["ingest_p50_ms"],
                      "ingest_p99_ms": best["ingest_p99_ms"], "cpu_share": best["cpu_share"],
                      "cpu_us_per_msg": best["cpu_us_per_msg"],
                      "limited_by": "simulators" if steps[-1]["simulators_msgs_per_s"] < 0.9 * steps[-1][
                          "offered_msgs_per_s"] else "platform" if not steps[-1]["held"] else "ladder top",
                      "steps": steps}))


if __name__ == "__main__":
    main()
