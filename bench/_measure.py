"""Shared by the benchmarks (not itself a benchmark): CPU time of a process tree, the publish -> row latency of a
probe device, the rows stored for a set of devices, the records' progress through Kafka and the gateway's own
refusal counters."""

from __future__ import annotations

import os
import threading
import time
import urllib.request
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec
from paho.mqtt.enums import CallbackAPIVersion

from civicgrid.bus import clients, topics
from civicgrid.settings import Settings
from civicgrid.store.db import connect

TICK_S = os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------- CPU accounting
def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live descendants (PostgreSQL backends, a JVM's threads)."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK_S
        todo += _children(p)
    return total


def cpu_of(pids: list[int]) -> float:
    """`cpu_seconds` summed over several processes (two gateways, say)."""
    return sum(cpu_seconds(pid) for pid in pids)


def machine_busy() -> tuple[int, int]:
    """The machine's (busy, total) CPU ticks so far, all cores, from /proc/stat (idle and iowait are not busy)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    total = sum(fields[:8])  # guest time is already inside user
    return total - idle, total


def machine_busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of the machine's CPU busy between two `machine_busy()` readings."""
    total = after[1] - before[1]
    return round((after[0] - before[0]) / total, 3) if total else 0.0


# ----------------------------------------------------------------------------- ingest latency probe
class LatencyProbe:
    """A bin sensor publishing every `every_s`; the publish → visible-row time of each reading.

    A reading whose row is not there after `give_up_s` counts in `missed` (its wait is not a sample)."""

    def __init__(self, settings: Settings, device_id: str, secret: str, every_s: float = 0.25,
                 give_up_s: float = 30.0) -> None:
        self.settings, self.id, self.every_s, self.give_up_s = settings, device_id, every_s, give_up_s
        self.missed = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(device_id, secret)
        self.client.connect(settings.mqtt.host, settings.mqtt.port)
        self.client.loop_start()
        self.seq = 0
        self.latencies_ms: list[tuple[float, float]] = []  # (wall time published, ms to the row)
        self.stop = threading.Event()

    def run(self) -> None:
        """Publish, wait for that reading's row (polling every 5 ms), record, repeat every `every_s`."""
        with connect(self.settings.db, autocommit=True) as conn:
            while not self.stop.is_set():
                self.seq += 1
                body = orjson.dumps({"seq": self.seq, "ts": _iso_now(), "fill_pct": 10.0, "battery_pct": 90})
                wall, mono = time.time(), time.monotonic()
                self.client.publish(f"cg/{self.id}/telemetry", body, qos=1)
                while not self.stop.is_set():
                    if conn.execute("SELECT 1 FROM telemetry WHERE device_id = %s AND seq = %s",
                                    (self.id, self.seq)).fetchone():
                        self.latencies_ms.append((wall, (time.monotonic() - mono) * 1000))
                        break
                    if time.monotonic() - mono > self.give_up_s:
                        self.missed += 1
                        break
                    time.sleep(0.005)
                self.stop.wait(max(0.0, mono + self.every_s - time.monotonic()))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _iso_now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="milliseconds")


def percentile(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else None


def rss_mib(pid: int) -> float:
    """Resident memory of one process, MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# ----------------------------------------------------------------------------- services' own counters
def metrics_text(metrics_port: int) -> str:
    """A service's Prometheus exposition, from its /metrics on the loopback."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:
        return response.read().decode()


def metric(metrics_port: int, series: str) -> float:
    """One series' value, `series` written as the exposition writes it (the name, and its labels in braces:
    ``civicgrid_jt808_records_out_total{topic="cg.tracks"}``); 0.0 while the service has not counted it yet."""
    for line in metrics_text(metrics_port).splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def gateway_counts(settings: Settings) -> dict[str, float]:
    """The gateway's dead-letter (by reason) and duplicate counters, from its /metrics."""
    out: dict[str, float] = {}
    for line in metrics_text(settings.gateway.metrics_port).splitlines():
        if line.startswith(("civicgrid_gateway_dead_letters_total", "civicgrid_gateway_duplicates_total")):
            name, value = line.rsplit(" ", 1)
            out[name.removeprefix("civicgrid_gateway_")] = float(value)
    return out


def stored(settings: Settings, ids: list[str]) -> int:
    with connect(settings.db, autocommit=True) as conn:
        return conn.execute("SELECT (SELECT count(*) FROM telemetry WHERE device_id = ANY(%(ids)s)) + "
                            "(SELECT count(*) FROM device_events WHERE device_id = ANY(%(ids)s))",
                            {"ids": ids}).fetchone()[0]


def problems(settings: Settings) -> dict[str, int]:
    """Alarm episodes raised (rows in `alarms`) and case steps recorded (`case_events`): a step's device faults
    and the case work they made, counted before and after it."""
    with connect(settings.db, autocommit=True) as conn:
        raised, steps = conn.execute("SELECT (SELECT count(*) FROM alarms WHERE action = 'raise'), "
                                     "(SELECT count(*) FROM case_events)").fetchone()
    return {"alarms_raised": raised, "case_events": steps}


class KafkaProgress:
    """Where the device records stand in Kafka, read cheaply once a second: how many the gateway has written
    (the end offsets of cg.telemetry and cg.events), how many are stored as rows (committed by the telemetry job
    on cg.telemetry and by the sinks on cg.events: each commits after the rows are in the database), and how many
    alarm detection took in (the telemetry job's commits on both).

    Counting rows in `telemetry` instead grew with the table and showed up as PostgreSQL's own CPU. A sample is
    three requests to the broker (one ListOffsets for every partition's end, one OffsetFetch per group), where
    a watermark query per partition and a third OffsetFetch made about twenty a second, which the benchmark
    charged to the broker as the platform's."""

    TOPICS = (topics.TELEMETRY, topics.EVENTS)
    GROUPS = ("sinks", "alarms")  # the stages: rows stored, records through detection

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        partitions = range(settings.kafka.partitions)
        self.partitions = [TopicPartition(t, p) for t in self.TOPICS for p in partitions]
        config = clients.librdkafka(settings.kafka, {"log_level": 3})
        self.admin = AdminClient(config)
        self.groups = {name: Consumer({**config, "enable.auto.commit": False,
                                       "group.id": f"{settings.streams.app_id}-{name}"})
                       for name in ("sinks", "telemetry")}

    def written(self) -> int:
        """Records the gateway has had acknowledged on the device topics."""
        asked = {tp: OffsetSpec.latest() for tp in self.partitions}
        return sum(future.result(10).offset for future in self.admin.list_offsets(asked, request_timeout=10).values())

    def committed(self, group: str) -> dict[str, int]:
        """Records of each device topic `group` has committed (never committed: 0)."""
        out = dict.fromkeys(self.TOPICS, 0)
        for tp in self.groups[group].committed(self.partitions, timeout=10):
            out[tp.topic] += max(tp.offset, 0)
        return out

    def sample(self) -> dict[str, int]:
        """`written`, and each stage's count, read in that order (so no lag reads negative)."""
        detected = self.committed("telemetry")
        stored = detected[topics.TELEMETRY] + self.committed("sinks")[topics.EVENTS]
        return {"sinks": stored, "alarms": sum(detected.values()), "written": self.written()}

    def close(self) -> None:
        for consumer in self.groups.values():
            consumer.close()


def with_overrides(settings: Settings, assignments: list[str]) -> Settings:
    """`settings` with ``section.key=value`` assignments applied and validated as the section validates them
    (`--set gateway.kafka_linger_ms=20`): a tuning experiment reaches every process the benchmark spawns, which
    environment variables do not once a section is built explicitly (civicgrid.stack.ephemeral)."""
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        section_name, dot, key = name.partition(".")
        if not sep or not dot or not hasattr(settings, section_name):
            raise SystemExit(f"--set {assignment!r}: expected section.key=value, e.g. gateway.kafka_linger_ms=20")
        section = getattr(settings, section_name)
        updated = type(section).model_validate({**section.model_dump(), key: value})
        settings = settings.model_copy(update={section_name: updated})
    return settings
