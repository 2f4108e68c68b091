"""Stream worker throughput and alarm → case latency, on a throwaway stack this script starts.

1. ceiling: a bare aiokafka consumer reads a backlog of N telemetry records (no work);
2. sink path: one worker with only the sinks reads the same backlog into the telemetry hypertable;
   the rate is N / (time from the first to the last row, read from the table);
3. alarm detection: one worker with only alarm detection reads the same backlog; every device raises
   and clears an alarm in its first readings and raises again in its last, so the first and last
   alarm on cg.alarms bracket the whole backlog;
0. latency (run first, on empty topics): gateway + full worker, 100 manhole sensors (each fitted
   to its own cover) publishing
   over MQTT at 1,000 msg/s in all; each tilts its cover once; latency = MQTT publish of the
   reading that raises the alarm → the case row's insert.

Last line: JSON with sink_events_per_s, alarm_events_per_s, ceiling_events_per_s,
alarm_to_case_p50_ms, alarm_to_case_p99_ms (docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
from confluent_kafka import Consumer, Producer, TopicPartition
from paho.mqtt.enums import CallbackAPIVersion

from civicgrid.broker.provisioning import add_devices
from civicgrid.bus import records, topics
from civicgrid.settings import Settings
from civicgrid.stack.ephemeral import ephemeral_settings, throwaway_stack
from civicgrid.stack.mosquitto import local_broker
from civicgrid.stack.services import spawn_service, stop_service
from civicgrid.store.db import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import cpu_of, with_overrides
from _rates import consumer_ceiling, rate_until


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def produce_backlog(settings: Settings, devices: int, per_device: int) -> int:
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "linger.ms": 20,
                         "queue.buffering.max.messages": 500_000})
    start = datetime.now(UTC) - timedelta(days=1)
    n = 0
    for seq in range(1, per_device + 1):
        # readings 1-2 high, 3-4 low (raise + clear), the last 2 high (raise): alarms bracket the backlog
        high = seq in (1, 2) or seq > per_device - 2
        for d in range(devices):
            ts = start + timedelta(seconds=seq)
            record = records.device_record(device_id=f"bench-{d:05d}", kind="manhole-sensor", profile="manhole-sensor",
                                           channel="telemetry", seq=seq, ts=ts, received_at=ts,
                                           data={"tilt_deg": 30.0 if high else 1.0, "battery_pct": 80.0},
                                           links={"component_code": None, "grid_cell_code": None,
                                                  "inspector_user_id": None})
            producer.produce(topics.TELEMETRY, records.dumps(record), f"bench-{d:05d}".encode())
            n += 1
        producer.poll(0)
    producer.flush(60)
    return n


def worker_with(settings: Settings, roles: tuple[str, ...], base: Path, name: str):
    streams = settings.streams.model_copy(update={"app_id": f"bench-{name}-{uuid.uuid4().hex[:4]}",
                                                  "roles": roles})
    worker = settings.model_copy(update={"streams": streams})
    return spawn_service("worker", worker, base / f"{name}.log")


def sink_rate(settings: Settings, n: int, base: Path, postgres_pid: int | None) -> tuple[float, dict[str, float]]:
    """Rows a second into the telemetry hypertable, and the CPU µs per row of the sink worker and of PostgreSQL
    (the two that share a row's cost), both from the first rows to the last (the worker's start-up left out)."""
    proc = worker_with(settings, ("sinks",), base, "sinks")
    pids = {"worker": [proc.pid], "postgres": [postgres_pid] if postgres_pid else []}
    first: dict[str, float] = {}

    def on_first(rows: int) -> None:
        first.update({role: cpu_of(p) for role, p in pids.items()}, rows=rows)

    try:
        with connect(settings.db, autocommit=True) as conn:
            rate = rate_until(lambda: conn.execute("SELECT count(*) FROM telemetry WHERE device_id LIKE "
                                                   "'bench-%'").fetchone()[0], n, poll_s=0.25, timeout_s=600,
                              on_first=on_first)
        rows = n - first["rows"]
        cost = {role: round((cpu_of(p) - first[role]) / rows * 1e6, 1) for role, p in pids.items() if p}
        return rate, cost
    finally:
        stop_service(proc)


def alarm_rate(settings: Settings, n: int, devices: int, base: Path) -> float:
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": "bench-alarms",
                         "log_level": 3})
    consumer.assign([TopicPartition(topics.ALARMS, p, 0) for p in range(settings.kafka.partitions)])
    proc = worker_with(settings, ("alarms",), base, "alarms")
    expected = devices * 3  # raise, clear, raise per device
    stamps: list[float] = []
    try:
        deadline = time.monotonic() + 600
        while len(stamps) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.2):
                if msg.error() is None and msg.key().startswith(b"bench-"):  # not the latency phase's
                    stamps.append(time.perf_counter())
    finally:
        stop_service(proc)
        consumer.close()
    if len(stamps) < expected:
        raise SystemExit(f"only {len(stamps)} of {expected} alarms; see {base / 'alarms.log'}")
    return n / (stamps[-1] - stamps[0])


def latency(settings: Settings, base: Path, devices: int = 100, rate_per_device: float = 10.0,
            seconds: float = 20.0) -> tuple[list[float], int]:
    """Publish → case row (ms) for each cover whose tilt raised an alarm, and how many raised one (a tilt that
    jitter gave only one reading beyond the threshold raises nothing: no sample, not a loss)."""
    with connect(settings.db, autocommit=True) as conn:
        components = [f"3415230101{n:06d}" for n in range(devices)]
        for code in components:
            conn.execute("INSERT INTO components (code, category_code, lon, lat) VALUES (%s, 'C0101', 117, 31.5)",
                         (code,))
    provisioned = add_devices(settings, [(f"lat-{n:03d}", "manhole-sensor") for n in range(devices)],
                              broker=local_broker(settings))
    with connect(settings.db, autocommit=True) as conn:
        for p, code in zip(provisioned, components, strict=True):
            conn.execute("UPDATE devices SET component_code = %s WHERE id = %s", (code, p.device_id))
            conn.execute("SELECT pg_notify('civicgrid_devices', %s)", (p.device_id,))
    gateway = spawn_service("gateway", settings, base / "gateway.log")
    worker = worker_with(settings, ("alarms", "cases", "sinks", "deadlines", "outbox"), base, "full")
    raised_at: dict[str, float] = {}
    try:
        time.sleep(5)  # gateway subscribed, worker's consumer groups joined
        stop = threading.Event()

        def device_loop(p, component: str) -> None:
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=p.device_id, protocol=mqtt.MQTTv5)
            client.username_pw_set(p.device_id, p.secret)
            client.connect(settings.mqtt.host, settings.mqtt.port)
            client.loop_start()
            tilt_at = random.uniform(2, seconds - 4)
            started = time.monotonic()
            seq = hits = 0
            while not stop.is_set() and time.monotonic() - started < seconds:
                seq += 1
                elapsed = time.monotonic() - started
                tilted = tilt_at <= elapsed < tilt_at + 2.0 / rate_per_device + 0.01
                body = json.dumps({"seq": seq, "ts": datetime.now(UTC).isoformat(), "tilt_deg": 30 if tilted else 1})
                info = client.publish(f"cg/{p.device_id}/telemetry", body, qos=1)
                if tilted:
                    hits += 1
                    if hits == 2:  # the debounce's second reading raises the alarm
                        info.wait_for_publish(5)
                        raised_at[component] = time.time()
                time.sleep(1 / rate_per_device)
            client.disconnect()
            client.loop_stop()

        threads = [threading.Thread(target=device_loop, args=(p, c)) for p, c in zip(provisioned, components,
                                                                                      strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(5)
    finally:
        stop_service(gateway)
        stop_service(worker)
    with connect(settings.db, autocommit=True) as conn:
        created = dict(conn.execute("SELECT component_code, extract(epoch FROM created_at) FROM cases "
                                    "WHERE component_code = ANY(%s)", (components,)).fetchall())
    return [(float(created[c]) - t) * 1000 for c, t in raised_at.items() if c in created], len(raised_at)


def _rounded(rate: float | None) -> int | None:
    return None if rate is None else round(rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--per-device", type=int, default=200)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--only", choices=("sinks", "alarms"), default=None,
                        help="measure this path alone (no latency phase), to compare one change quickly")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="a setting for every process of the run (repeatable), e.g. streams.sink_batch=5000")
    args = parser.parse_args()
    settings = with_overrides(ephemeral_settings(prefix="civicgrid-bench-"), args.set)
    base = settings.stack.var_dir.parent
    samples: list[float] = []
    raised, sink_cost = 0, {}
    ceiling: float | None = None
    sinks: float | None = None
    alarms: float | None = None
    with throwaway_stack(settings, keep=args.keep, progress=lambda m: say(f"stack {m}")) as stack:
        if args.only is None:  # latency first, on empty topics: a worker started later would first replay the backlog
            samples, raised = latency(settings, base)
            say(f"alarm → case latency: {len(samples)} samples, cases for {len(samples)} of {raised} covers that "
                "raised")
        n = produce_backlog(settings, args.devices, args.per_device)
        say(f"backlog: {n} telemetry records from {args.devices} devices")
        if args.only is None:
            ceiling = asyncio.run(consumer_ceiling(settings.kafka.bootstrap_servers, topics.TELEMETRY, n))
            say(f"ceiling: bare aiokafka consumer {ceiling:,.0f} records/s")
        if args.only in (None, "sinks"):
            postgres = next((x.pid for x in stack.status() if x.name == "postgres" and x.pid), None)
            sinks, sink_cost = sink_rate(settings, n, base, postgres)
            say(f"sink path: {sinks:,.0f} rows/s into the telemetry hypertable; CPU µs a row {sink_cost}")
        if args.only in (None, "alarms"):
            alarms = alarm_rate(settings, n, args.devices, base)
            say(f"alarm detection: {alarms:,.0f} readings/s")
    p50, p99 = (float(np.percentile(samples, q)) for q in (50, 99)) if samples else (float("nan"),) * 2
    print(json.dumps({
        "sink_events_per_s": _rounded(sinks), "sink_cpu_us_per_row": sink_cost,
        "alarm_events_per_s": _rounded(alarms),
        "ceiling_events_per_s": _rounded(ceiling),
        "alarm_to_case_p50_ms": round(p50, 1), "alarm_to_case_p99_ms": round(p99, 1), "latency_samples": len(samples),
        "latency_raised": raised, "offered_msgs_per_s": 1000, "backlog_records": n, "cores": os.cpu_count(),
        "only": args.only,
    }))


if __name__ == "__main__":
    main()
