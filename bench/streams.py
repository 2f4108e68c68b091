"""Stream worker throughput and alarm → case latency, on a throwaway stack this script starts.

1. ceiling: a bare aiokafka consumer reads a backlog of N telemetry records (no work);
2. sink path: one worker with only the sinks reads the same backlog into the telemetry hypertable;
   the rate is rows / time from the first rows to the last (the worker's row counter, then checked against the
   table), with the CPU µs a row of the worker, PostgreSQL and the broker;
3. alarm detection: one worker with only alarm detection reads the same backlog; every device raises
   and clears an alarm in its first readings and raises again in its last, so the first and last
   alarm on cg.alarms bracket the whole backlog;
4. worker (`--only worker`, alone): one worker with the default roles' telemetry job (alarm detection and the
   telemetry rows, one read of cg.telemetry) and the sinks, as a city runs them, reads the same backlog: its CPU
   µs per record and PostgreSQL's (from the first row to the last row and alarm), then the CPU µs per record one
   more consumer group costs to fetch and decode it (what the second group reading cg.telemetry spent before the
   telemetry job); `--profile DIR` samples the worker with py-spy;
0. latency (run first, on empty topics): gateway + full worker, 100 manhole sensors (each fitted
   to its own cover) publishing
   over MQTT at 1,000 msg/s in all; each tilts its cover once; latency = MQTT publish of the
   reading that raises the alarm → the case row's insert.

Last line: JSON with sink_events_per_s, alarm_events_per_s, ceiling_events_per_s,
alarm_to_case_p50_ms, alarm_to_case_p99_ms, and with --only worker worker_cpu_us_per_record,
read_decode_cpu_us_per_record, worker_profile (docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import paho.mqtt.client as mqtt
from aiokafka import AIOKafkaConsumer
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from paho.mqtt.enums import CallbackAPIVersion

from civicgrid.broker.provisioning import add_devices
from civicgrid.bus import clients, records, topics
from civicgrid.bus.admin import ensure_topics
from civicgrid.bus.topics import topic_specs
from civicgrid.settings import Settings
from civicgrid.stack.ephemeral import ephemeral_settings, throwaway_stack
from civicgrid.stack.mosquitto import local_broker
from civicgrid.stack.services import spawn_service, stop_service
from civicgrid.store.db import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _profile
from _measure import cpu_of, metric, with_overrides
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


def sink_rows(settings: Settings) -> int:
    """The telemetry rows the sink worker wrote (its civicgrid_worker_sink_rows counter; 0 before it serves).

    Read from the worker rather than by ``count(*)`` on the table: a count over the growing table every 0.25 s
    cost PostgreSQL about 2 µs a row in this benchmark's own figure (docs/performance.md, "The ninth round")."""
    try:
        return int(metric(settings.streams.metrics_port, 'civicgrid_worker_sink_rows_total{table="telemetry"}'))
    except OSError:  # not serving yet
        return 0


def sink_rate(settings: Settings, n: int, base: Path, pids: dict[str, list[int]],
              profile: Path | None = None) -> tuple[float, dict[str, float]]:
    """Rows a second into the telemetry hypertable, and the CPU µs per row of the sink worker, PostgreSQL and the
    broker (the three that share a row's cost), from the first rows to the last (the worker's start-up left out).
    `profile`: py-spy samples the worker's threads, waiting ones too, into DIR/sinks.raw (where the wall time goes)."""
    proc = worker_with(settings, ("sinks",), base, "sinks")
    pids = {"worker": [proc.pid], **pids}
    first: dict[str, float] = {}
    spy = None

    def on_first(rows: int) -> None:
        nonlocal spy
        first.update({role: cpu_of(p) for role, p in pids.items()}, rows=rows)
        if profile is not None:
            spy = _profile.start(proc.pid, profile / "sinks.raw", 600, idle=True)

    try:
        rate = rate_until(lambda: sink_rows(settings), n, poll_s=0.25, timeout_s=600, on_first=on_first)
        with connect(settings.db, autocommit=True) as conn:  # the counter's rows are in the table
            stored = conn.execute("SELECT count(*) FROM telemetry WHERE device_id LIKE 'bench-%'").fetchone()[0]
        if stored != n:
            raise SystemExit(f"the sinks counted {n} rows written, the table holds {stored}")
        rows = n - first["rows"]
        cost = {role: round((cpu_of(p) - first[role]) / rows * 1e6, 1) for role, p in pids.items() if p}
        return rate, cost
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
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


def worker_cost(settings: Settings, n: int, devices: int, base: Path, postgres_pid: int | None,
                profile: Path | None) -> tuple[float, dict[str, float], list[dict[str, object]]]:
    """One worker with the telemetry job and the sinks together, as a city runs them (bench/e2e.py's workers), over
    the backlog: its rows a second, the CPU µs per record of the worker and of PostgreSQL from the first row to
    the moment both the last row and the last alarm are there, and (with `profile`) py-spy's top functions."""
    ensure_topics(settings.kafka, topic_specs(settings.kafka))  # cg.alarms there before it is assigned
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": "bench-worker",
                         "log_level": 3})
    # From the beginning: this phase runs alone (--only worker), so every bench-… alarm on cg.alarms is its own
    consumer.assign([TopicPartition(topics.ALARMS, p, OFFSET_BEGINNING) for p in range(settings.kafka.partitions)])
    proc = worker_with(settings, ("telemetry", "sinks"), base, "worker")
    pids = {"worker": [proc.pid], "postgres": [postgres_pid] if postgres_pid else []}
    expected = devices * 3
    alarms = 0
    first: dict[str, float] = {}
    spy = None
    try:
        with connect(settings.db, autocommit=True) as conn:
            def rows() -> int:
                return conn.execute("SELECT count(*) FROM telemetry WHERE device_id LIKE 'bench-%'").fetchone()[0]

            deadline = time.monotonic() + 600
            while time.monotonic() < deadline and not first:
                if (now_rows := rows()) > 0:
                    first.update({role: cpu_of(p) for role, p in pids.items()}, rows=now_rows,
                                 at=time.perf_counter())
                    if profile is not None:
                        spy = _profile.start(proc.pid, profile / "worker.raw", 600)
                time.sleep(0.1)
            done = 0
            while time.monotonic() < deadline:
                alarms += sum(1 for m in consumer.consume(1000, 0.1)
                              if m.error() is None and m.key().startswith(b"bench-"))
                if alarms >= expected and (done := rows()) >= n:
                    break
        ended = time.perf_counter()
        if alarms < expected or done < n:
            raise SystemExit(f"{done} of {n} rows, {alarms} of {expected} alarms; see {base / 'worker.log'}")
        taken = n - first["rows"]
        cost = {role: round((cpu_of(p) - first[role]) / taken * 1e6, 1) for role, p in pids.items() if p}
        top: list[dict[str, object]] = []
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
            top = _profile.top(profile / "worker.raw", 25)
        return taken / (ended - first["at"]), cost, top
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
        stop_service(proc)
        consumer.close()


async def second_read_cost(settings: Settings, n: int) -> float:
    """CPU µs per record that one more consumer group reading and decoding the whole backlog costs (this process's
    CPU time: fetches with the worker's batching, aiokafka's record parsing, orjson): what a worker spends a second
    time when alarm detection and the sinks both read cg.telemetry, each in its own group."""
    s = settings.streams
    consumer = AIOKafkaConsumer(topics.TELEMETRY, **clients.aiokafka(  # as streams/batch_consumer.py opens them
        settings.kafka, group_id=f"bench-read-{uuid.uuid4().hex[:6]}", enable_auto_commit=False,
        auto_offset_reset="earliest", max_poll_records=s.sink_batch, fetch_min_bytes=s.fetch_min_bytes,
        fetch_max_wait_ms=s.fetch_max_wait_ms))
    await consumer.start()
    got, started = 0, None
    try:
        while got < n:
            for messages in (await consumer.getmany(timeout_ms=500, max_records=s.sink_batch)).values():
                if started is None:
                    started = time.process_time()
                for message in messages:
                    orjson.loads(message.value)
                got += len(messages)
    finally:
        await consumer.stop()
    return (time.process_time() - (started or 0.0)) / got * 1e6


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
    worker = worker_with(settings, ("telemetry", "cases", "sinks", "deadlines", "outbox"), base, "full")
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
    parser.add_argument("--only", choices=("sinks", "alarms", "worker"), default=None,
                        help="measure this path alone (no latency phase), to compare one change quickly; "
                             "worker: alarm detection and the sinks in one worker, CPU µs per record")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="with --only worker: py-spy samples the worker, raw stacks into DIR; with --only "
                             "sinks: its threads, waiting ones too (DIR/sinks.raw)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="a setting for every process of the run (repeatable), e.g. streams.sink_batch=5000")
    args = parser.parse_args()
    settings = with_overrides(ephemeral_settings(prefix="civicgrid-bench-"), args.set)
    base = settings.stack.var_dir.parent
    samples: list[float] = []
    raised, sink_cost = 0, {}
    worker: float | None = None
    worker_cost_us: dict[str, float] = {}
    second_read: float | None = None
    top: list[dict[str, object]] = []
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
            pids = {x.name: [x.pid] for x in stack.status() if x.name in ("postgres", "kafka") and x.pid}
            if args.profile is not None:
                args.profile.mkdir(parents=True, exist_ok=True)
            sinks, sink_cost = sink_rate(settings, n, base, pids, args.profile)
            say(f"sink path: {sinks:,.0f} rows/s into the telemetry hypertable; CPU µs a row {sink_cost}")
        if args.only in (None, "alarms"):
            alarms = alarm_rate(settings, n, args.devices, base)
            say(f"alarm detection: {alarms:,.0f} readings/s")
        if args.only == "worker":
            postgres = next((x.pid for x in stack.status() if x.name == "postgres" and x.pid), None)
            if args.profile is not None:
                args.profile.mkdir(parents=True, exist_ok=True)
            worker, worker_cost_us, top = worker_cost(settings, n, args.devices, base, postgres, args.profile)
            say(f"worker (telemetry job + sinks): {worker:,.0f} records/s; CPU µs a record {worker_cost_us}")
            second_read = asyncio.run(second_read_cost(settings, n))
            say(f"one consumer group reading and decoding every record: {second_read:.1f} CPU µs a record")
            for row in top:
                say(f"  {row['self']:6.1%} self {row['total']:6.1%} total  {row['function']}")
    p50, p99 = (float(np.percentile(samples, q)) for q in (50, 99)) if samples else (float("nan"),) * 2
    print(json.dumps({
        "sink_events_per_s": _rounded(sinks), "sink_cpu_us_per_row": sink_cost,
        "alarm_events_per_s": _rounded(alarms),
        "worker_records_per_s": _rounded(worker), "worker_cpu_us_per_record": worker_cost_us,
        "worker_profile": top[:12],
        "read_decode_cpu_us_per_record": None if second_read is None else round(second_read, 1),
        "ceiling_events_per_s": _rounded(ceiling),
        "alarm_to_case_p50_ms": round(p50, 1), "alarm_to_case_p99_ms": round(p99, 1), "latency_samples": len(samples),
        "latency_raised": raised, "offered_msgs_per_s": 1000, "backlog_records": n, "cores": os.cpu_count(),
        "only": args.only,
    }))


if __name__ == "__main__":
    main()
