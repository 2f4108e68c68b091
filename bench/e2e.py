"""End to end: the simulated city's devices → MQTT → gateway → Kafka → streams → hypertable rows.

Method (all on this machine, against a throwaway stack this script starts):
1. A generated city (manhole-cover and trash-bin sensors, each its own MQTT login) is
   loaded; gateway processes on the shared subscription (`--gateways`, 1) and stream workers sharing the
   partitions (`--workers`, 1; all roles) run beside the stack. Before the ladder the first rate is offered
   unmeasured for `--warmup-s` (a fresh Kafka JVM spends its first minutes compiling).
2. For each offered rate of a ladder (`--rates`), the city's devices offer that rate for
   `--hold-s` seconds: by default their payloads built beforehand and written to the broker
   by a load generator that costs next to nothing (`--load packets`, bench/_packetload.py),
   or by the simulators themselves running the city faster (`--load simulators`,
   bench/_simload.py; they spend as much CPU as the platform), faults at `--fault-rate` a reading (each an
   alarm episode, raised, filed as a case and cleared; `alarms_raised` and `case_events` per step). Meanwhile a
   probe sensor publishes a reading every 0.25 s and the time from its publish to its
   row being visible in `telemetry` is taken (ingest latency).
3. After the hold: every message the broker acknowledged must be a row (telemetry or
   device_events) or a dead letter the gateway counted (reported apart, by reason);
   the time the last rows need to arrive after the hold is the drain
   time, the bound on the backlog (Kafka lag) the hold built up. A step holds when
   nothing is lost, the drain is under `--max-drain-s`, and the load generator really
   offered ≥ 90 % of the rate; the ladder stops at the first step that does not.
4. CPU shares inside the hold window (bench/e2e.py `HoldCpu`): each platform process's (gateway, worker,
   Mosquitto, Kafka, PostgreSQL with its backends), this script's, the machine's busy share from /proc/stat, and
   the rest of it (the load generator and the kernel). And the cost per message: each platform process's CPU-µs
   from the hold's start to its last row, over the messages offered, and their sum (`platform`), the load
   generator excluded.

Drain mode (`--drain N`): with the gateway stopped (its persistent session keeps the broker queueing for it), the
load generator publishes N messages as fast as the broker takes them; then the gateway starts and the time from
its start to the last row is the pipeline's drain rate, with the CPU-µs per message of each process.

Last line: JSON with sustained_msgs_per_s, lost, ingest_p99_ms, cpu_share, cpu_us_per_msg (docs/performance.md);
in drain mode drained, drain_s, drain_msgs_per_s, lost, cpu_us_per_msg.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _jfr
import _profile
from _measure import (
    KafkaProgress,
    LatencyProbe,
    cpu_of,
    machine_busy,
    machine_busy_share,
    percentile,
    problems,
    stored,
    with_overrides,
)
from _packetload import DEFAULT_FAULT_RATE, PacketLoad
from _platform import Platform
from _simload import SimLoad

from civicgrid.broker.provisioning import add_device
from civicgrid.broker.sync import wait_for_login
from civicgrid.settings import Settings
from civicgrid.stack.ephemeral import ephemeral_settings, throwaway_stack
from civicgrid.stack.mosquitto import local_broker
from civicgrid.store.city import load_city
from simulators.city import generate_city

SENSORS = {"manhole-sensor", "bin-sensor"}


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- the ladder
@dataclass
class Profiles:
    """A step's profiles being taken: py-spy on the Python services for the hold (docs/performance.md) and Java
    Flight Recorder in the broker."""

    dir: Path
    rate: float
    hold_s: float
    spies: dict[str, tuple[subprocess.Popen[bytes], Path]]

    @classmethod
    def start(cls, pids: dict[str, list[int]], profile_dir: Path, rate: float, hold_s: float) -> Profiles:
        spies = {name: (_profile.start(pids[name][0], profile_dir / f"{name}-{rate:.0f}.txt", hold_s),
                        profile_dir / f"{name}-{rate:.0f}.txt") for name in ("gateway", "worker")}
        if "kafka" in pids:
            _jfr.start(pids["kafka"][0], (profile_dir / f"kafka-{rate:.0f}.jfr").absolute(), hold_s)
        return cls(profile_dir, rate, hold_s, spies)

    def results(self, kafka_threads: Counter[str]) -> dict[str, object]:
        """The top functions of each service, and the broker's JFR shares beside its threads' CPU over the step
        (`kafka_threads`, from /proc: the step measures it anyway)."""
        for proc, _ in self.spies.values():
            proc.wait(self.hold_s + 60)
        out: dict[str, object] = {name: _profile.top(path) for name, (_, path) in self.spies.items() if path.exists()}
        recording = (self.dir / f"kafka-{self.rate:.0f}.jfr").absolute()
        for _ in range(60):  # the broker writes the recording when its duration is up
            if recording.exists():
                out["kafka"] = {**_jfr.summary(recording), "thread_cpu_s": {
                    name: round(s, 2) for name, s in kafka_threads.most_common(12)}}
                break
            time.sleep(1)
        return out


def _kafka_split(threads: Counter[str], sent: int) -> dict[str, float]:
    """The broker's CPU µs a message by kind of thread: its JIT compiler's (a fresh JVM compiles for minutes, a
    broker in service has long finished), its garbage collector's, and the broker's own work."""
    kinds: Counter[str] = Counter()
    for name, seconds in threads.items():
        kind = "jit" if "Compiler" in name else "gc" if name.startswith(("GC Thread", "G1 ", "VM Thread")) else \
            "broker"
        kinds[kind] += seconds
    return {kind: round(seconds / sent * 1e6, 1) for kind, seconds in sorted(kinds.items())}


def step(settings: Settings, city: Path, rate: float, hold_s: float, platform: Platform, stack_pids: dict[str, int],
         expected_before: int, max_drain_s: float, probe: LatencyProbe, progress: KafkaProgress, processes: int,
         profile_dir: Path | None = None, generator: str = "packets", fault_rate: float = DEFAULT_FAULT_RATE) -> dict:
    load, how = _load(generator, settings, city, rate, hold_s, processes, fault_rate)
    problems0 = problems(settings)
    ids = load.device_ids
    say(f"offering {rate:,.0f} msg/s from {len(ids)} sensors ({how}, {processes} processes) for {hold_s:.0f} s")
    pids = {**platform.pids(), **{name: [pid] for name, pid in stack_pids.items()}}
    cpu0 = {name: cpu_of(ps) for name, ps in pids.items()}
    kafka_threads0 = _jfr.thread_cpu(pids["kafka"][0]) if "kafka" in pids else None
    refused0 = platform.refused()
    written0 = progress.written()
    samples: list[tuple[float, dict[str, int]]] = []
    done = threading.Event()

    def sample() -> None:  # the records' progress through Kafka over time: the platform's rate inside the hold
        while not done.is_set():
            samples.append((time.time(), progress.sample()))
            done.wait(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    profiles = Profiles.start(pids, profile_dir, rate, hold_s) if profile_dir is not None else None
    probe.latencies_ms.clear()
    sampler.start()
    hold_cpu = HoldCpu(pids, time.time() + load.warmup_s, hold_s)  # the load's own window, to the millisecond
    hold_cpu.start()
    summary = load.run()
    begin, end = summary["window"]
    done.set()
    sampler.join(5)
    hold_cpu.join(5)
    cpu = hold_cpu.shares
    latencies = [ms for wall, ms in list(probe.latencies_ms) if begin <= wall <= end]
    sent = sum(summary["sent"].get(ch, 0) for ch in ("telemetry", "event"))
    expected = expected_before + sent
    drain_s, refused = _drained(platform, progress, written0, sent, refused0, max(60.0, max_drain_s * 3))
    # Cost per message: each platform process's CPU from the hold's start to the last row (the drain included),
    # over the messages offered in the hold; the load generator and this script are not the platform.
    platform_s = {name: cpu_of(ps) - cpu0[name] for name, ps in pids.items()}
    have = stored(settings, ids)
    made = {k: v - problems0[k] for k, v in problems(settings).items()}
    cost = {name: round(s / sent * 1e6, 1) for name, s in platform_s.items()} if sent else {}
    if sent:
        cost["platform"] = round(sum(platform_s.values()) / sent * 1e6, 1)
    kafka_threads = _jfr.thread_cpu(pids["kafka"][0]) - kafka_threads0 if kafka_threads0 is not None else Counter()
    kafka_split = _kafka_split(kafka_threads, sent) if kafka_threads0 is not None and sent else {}
    steady = [(t, n["sinks"]) for t, n in samples if begin <= t <= end]
    through = (steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0]) if len(steady) > 1 else 0.0
    result = {"offered_msgs_per_s": rate, "generator_msgs_per_s": round(summary["offered_msgs_per_s"]),
              "achieved_msgs_per_s": round(through), "sent": sent,
              # A dead letter is recorded with its reason, not lost; a duplicate is dropped on purpose.
              "lost": max(0, expected - have - round(sum(refused.values()))), "gateway_refused": refused,
              "drain_s": round(drain_s, 2),
              "errors": summary["errors"],
              "ingest_p50_ms": _ms(percentile(latencies, 0.5)), "ingest_p99_ms": _ms(percentile(latencies, 0.99)),
              "latency_samples": len(latencies),
              "cpu_share": cpu, "cpu_us_per_msg": cost, "kafka_cpu_us_per_msg": kafka_split,
              "lag_max": _lags(samples, begin, end, rate), "fault_rate": fault_rate, **made}
    if profiles is not None:
        result["profile"] = profiles.results(kafka_threads)
    result["held"] = (result["lost"] == 0 and drain_s <= max_drain_s and through >= 0.9 * rate
                      and not summary["errors"])
    say(json.dumps(result))
    return result


def _load(generator: str, settings: Settings, city: Path, rate: float, hold_s: float,
          processes: int, fault_rate: float) -> tuple[PacketLoad | SimLoad, str]:
    if generator == "packets":
        return (PacketLoad(city, settings, rate, kinds=SENSORS, seed=int(rate), duration_s=hold_s,
                           processes=processes, fault_rate=fault_rate), "prepared payloads")
    sim = SimLoad(city, settings, rate, kinds=SENSORS, seed=int(rate), duration_s=hold_s, processes=processes,
                  fault_rate=fault_rate)
    return sim, f"simulators at {sim.speed:.0f}×"


def drain(settings: Settings, city: Path, n: int, platform: Platform, stack_pids: dict[str, int],
          processes: int, fault_rate: float = DEFAULT_FAULT_RATE) -> dict:
    """The drain mode (module docstring): the running gateways are stopped first and started again once the broker
    holds the backlog (stopped by the caller)."""
    platform.stop_gateways()
    load = PacketLoad(city, settings, None, kinds=SENSORS, messages=n, processes=processes, warmup_s=5.0,
                      fault_rate=fault_rate)
    say(f"queueing {n:,} messages from {len(load.device_ids)} sensors while the gateway is stopped")
    summary = load.run()
    sent = sum(summary["sent"].get(ch, 0) for ch in ("telemetry", "event"))
    say(f"the broker took {summary['sent_total']:,} in {summary['send_s']:.1f} s; starting the gateway")
    pids = {"worker": platform.pids()["worker"], **{name: [pid] for name, pid in stack_pids.items()}}
    cpu0 = {name: cpu_of(ps) for name, ps in pids.items()}
    progress = KafkaProgress(settings)
    written0 = progress.written()
    t0 = time.monotonic()
    platform.start_gateways("-drain")  # new processes: their refusal counters start at 0
    pids["gateway"] = platform.pids()["gateway"]
    cpu0["gateway"] = 0.0
    samples: list[tuple[float, int]] = []
    refused: dict[str, float] = {}
    last_change, last = t0, -1
    while time.monotonic() - last_change < 60:  # until every message is a row or a dead letter, or nothing moves
        now = progress.sample()
        stored_so_far = now["sinks"] - written0
        samples.append((time.monotonic() - t0, stored_so_far))
        refused = platform.refused()
        if stored_so_far + sum(refused.values()) >= sent:
            break
        if stored_so_far != last:
            last, last_change = stored_so_far, time.monotonic()
        time.sleep(0.2)
    drain_s = time.monotonic() - t0
    platform_s = {name: cpu_of(ps) - cpu0[name] for name, ps in pids.items()}
    progress.close()
    have = stored(settings, load.device_ids)
    cost = {name: round(s / sent * 1e6, 1) for name, s in platform_s.items()}
    cost["platform"] = round(sum(platform_s.values()) / sent * 1e6, 1)
    lost = max(0, sent - have - round(sum(refused.values())))
    return {"drained": have, "queued": sent, "drain_s": round(drain_s, 1),
            "drain_msgs_per_s": round(have / drain_s), "lost": lost, "gateway_refused": refused,
            "cpu_us_per_msg": cost, "cpu_share": {name: round(s / drain_s / (os.cpu_count() or 1), 3)
                                                  for name, s in platform_s.items()},
            "rows_over_time": [(round(t, 1), n) for t, n in samples[:: max(1, len(samples) // 20)]],
            "cores": os.cpu_count()}


def _drained(platform: Platform, progress: KafkaProgress, written0: int, sent: int, refused0: dict[str, float],
             limit_s: float) -> tuple[float, dict[str, float]]:
    """Seconds until Kafka has every message offered (or the gateway counted its dead letter) and the sinks have
    committed them all, read from the offsets (cheap; the rows are counted once, after); and the dead letters."""
    start, refused = time.monotonic(), {}
    while time.monotonic() - start < limit_s:
        now = progress.sample()
        refused = {k: v - refused0.get(k, 0.0) for k, v in platform.refused().items() if v - refused0.get(k, 0.0)}
        if now["written"] - written0 + sum(refused.values()) >= sent and now["sinks"] >= now["written"]:
            break
        time.sleep(0.1)
    return time.monotonic() - start, refused


def _lags(samples: list[tuple[float, dict[str, int]]], begin: float, end: float, rate: float) -> dict[str, Any]:
    """The most records waiting at each stage during the hold: offered but not yet in Kafka (MQTT and the
    gateway), and in Kafka but not yet committed by each worker group; bounded lags mean the step is sustained."""
    steady = [(t, n) for t, n in samples if begin <= t <= end]
    if not steady:
        return {}
    start = steady[0][1]["written"] - rate * (steady[0][0] - begin)  # what Kafka held before the hold
    lags: dict[str, Any] = {"gateway": max(round(rate * (t - begin) - (n["written"] - start)) for t, n in steady)}
    for group in KafkaProgress.GROUPS:
        lags[group] = max(n["written"] - n[group] for _, n in steady)
    # Every few seconds (s into the hold, gateway, sinks): where a stall was, if any.
    lags["timeline"] = [(round(t - begin), round(rate * (t - begin) - (n["written"] - start)),
                         n["written"] - n["sinks"]) for t, n in steady[:: max(1, len(steady) // 15)]]
    return lags


class HoldCpu(threading.Thread):
    """The CPU shares of the machine inside the hold window alone (before it the load generator builds its
    payloads and connects, 15 s in which the platform idles): each platform process's, this script's (the probe
    and the sampler), the whole machine's busy share (the kernel's network work included), and the rest of it,
    which is the load generator's and the kernel's."""

    def __init__(self, pids: dict[str, list[int]], begin: float, hold_s: float) -> None:
        super().__init__(daemon=True)
        self.pids, self.begin, self.hold_s = pids, begin, hold_s
        self.shares: dict[str, float] = {}

    def run(self) -> None:
        time.sleep(max(0.0, self.begin - time.time()))
        cpu0 = {name: cpu_of(ps) for name, ps in self.pids.items()}
        own0, machine0, t0 = time.process_time(), machine_busy(), time.monotonic()
        time.sleep(self.hold_s)
        wall, cores = time.monotonic() - t0, os.cpu_count() or 1
        shares = {name: round((cpu_of(ps) - cpu0[name]) / wall / cores, 3) for name, ps in self.pids.items()}
        shares["bench (probe, sampler)"] = round((time.process_time() - own0) / wall / cores, 3)
        shares["machine"] = machine_busy_share(machine0, machine_busy())
        shares["load generator and kernel"] = round(max(0.0, shares["machine"] - sum(
            v for k, v in shares.items() if k != "machine")), 3)
        self.shares = shares


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def ladder(settings: Settings, city: Path, args: argparse.Namespace, platform: Platform, stack_pids: dict[str, int],
           probe: LatencyProbe) -> list[dict]:
    """Step up the rates until one does not hold (module docstring, 2-4)."""
    prober = threading.Thread(target=probe.run, daemon=True)
    prober.start()
    progress = KafkaProgress(settings)
    steps, expected = [], 0
    rates = [float(r) for r in args.rates.split(",")]
    try:
        if args.warmup_s > 0:  # not measured: the JVM's JIT compiler alone was most of Kafka's CPU in its first minutes
            say(f"warming up for {args.warmup_s:.0f} s at {rates[0]:,.0f} msg/s")
            result = step(settings, city, rates[0], args.warmup_s, platform, stack_pids, expected, 60.0, probe,
                          progress, args.processes or 2, None, args.load, args.fault_rate)
            expected += result["sent"] - result["lost"]
        for rate in rates:
            processes = args.processes or (2 if args.load == "packets" else max(2, math.ceil(rate / 400)))
            result = step(settings, city, rate, args.hold_s, platform, stack_pids, expected, args.max_drain_s, probe,
                          progress, processes, args.profile, args.load, args.fault_rate)
            expected += result["sent"] - result["lost"]
            steps.append(result)
            if not result["held"]:
                break
    finally:
        progress.close()
        probe.stop.set()
        prober.join(5)
        probe.close()
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="500,1000,1500,2000,3000", help="offered rates, msg/s, ascending")
    parser.add_argument("--hold-s", type=float, default=60.0)
    parser.add_argument("--max-drain-s", type=float, default=5.0)
    parser.add_argument("--warmup-s", type=float, default=60.0,
                        help="offer the first rate this long before the ladder, unmeasured (a fresh Kafka JVM spends "
                             "its first minutes compiling)")
    parser.add_argument("--covers", type=int, default=600)
    parser.add_argument("--bins", type=int, default=300)
    parser.add_argument("--load", choices=("packets", "simulators"), default="packets",
                        help="who offers the rate: prepared payloads written by a cheap generator (default), or the "
                             "simulators themselves")
    parser.add_argument("--fault-rate", type=float, default=DEFAULT_FAULT_RATE,
                        help="faults per reading (each an alarm episode the worker files as a case); the "
                             f"default {DEFAULT_FAULT_RATE} is an episode a second at 5,000 msg/s "
                             "(bench/_packetload.py)")
    parser.add_argument("--processes", type=int, default=0,
                        help="load processes sharing the fleet (default: packets 2; simulators one per 400 msg/s "
                             "offered, at least 2: one simulator process publishes about 1,000 msg/s on a free core)")
    parser.add_argument("--drain", type=int, default=0, metavar="N",
                        help="drain mode instead of the ladder: N messages queued while the gateway is stopped, "
                             "then the time to the last row")
    parser.add_argument("--gateways", type=int, default=1, help="gateway processes on the shared subscription")
    parser.add_argument("--workers", type=int, default=1, help="stream worker processes sharing the partitions")
    parser.add_argument("--keep", action="store_true", help="keep the stack's directory (logs)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="sample the gateway and the worker with py-spy during each hold; raw stacks into this "
                             "directory, the top functions in each step's result")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="a setting for every process of the run (repeatable), e.g. gateway.kafka_linger_ms=20")
    args = parser.parse_args()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)

    settings = with_overrides(ephemeral_settings(prefix="civicgrid-bench-"), args.set)
    base = settings.stack.var_dir.parent
    platform = Platform(settings, base, args.gateways, args.workers)
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
            platform.start()
            say(f"platform: {platform.describe()}")
            stack_pids = {s.name: s.pid for s in stack.status() if s.pid}
            if args.drain:
                result = drain(settings, city, args.drain, platform, stack_pids, args.processes or 2,
                               args.fault_rate)
                print(json.dumps({**result, "platform": platform.describe()}))
                return
            steps = ladder(settings, city, args, platform, stack_pids, LatencyProbe(settings, probe_id, probe_secret))
        finally:
            platform.stop()
    held = [s for s in steps if s["held"]]
    best = max(held, key=lambda s: s["achieved_msgs_per_s"]) if held else steps[0]
    print(json.dumps({"sustained_msgs_per_s": best["achieved_msgs_per_s"] if held else 0,
                      "lost": sum(s["lost"] for s in steps), "ingest_p50_ms": best["ingest_p50_ms"],
                      "ingest_p99_ms": best["ingest_p99_ms"], "cpu_share": best["cpu_share"],
                      "cpu_us_per_msg": best["cpu_us_per_msg"],
                      "limited_by": "load generator" if steps[-1]["generator_msgs_per_s"] < 0.9 * steps[-1][
                          "offered_msgs_per_s"] else "platform" if not steps[-1]["held"] else "ladder top",
                      "platform": platform.describe(), "steps": steps}))


if __name__ == "__main__":
    main()
