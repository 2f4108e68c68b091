"""The cost of the typed Kafka records on the hot paths: µs per record to encode and to decode.

Each record type of civicgrid/bus is encoded and decoded N times in one process, and so is the plain
dict form the services passed around before the types (orjson.dumps of a dict; orjson.loads plus the
fields a reader touches), so the price of the types is shown next to what it replaced. One core, no I/O.

The worker's two per-record paths over cg.telemetry are timed the same way, without Kafka or the database:
the sinks' COPY line (`streams.sinks.telemetry_rows`, on 2,000-record batches as the sinks decode them) and
alarm detection (`AlarmDetector.detect`: decoding, the manhole profile's rules, the state; batches of 1,000
devices, 40 readings each, a tilt raised and cleared in each device's first readings), in CPU time.

Last line: JSON with per-type µs figures (docs/performance.md, "How the benchmarks report").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from civicgrid.bus import records
from civicgrid.bus.alarm_record import AlarmRecord
from civicgrid.bus.device_records import DeviceRecord

AT = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
# The streams package, not bench/streams.py beside this script
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def per_record_us(work: Callable[[], object], n: int) -> float:
    best = float("inf")
    for _ in range(5):  # best of five: the machine's noise only ever adds time
        started = time.perf_counter()
        for _ in range(n):
            work()
        best = min(best, time.perf_counter() - started)
    return round(best / n * 1e6, 2)


def per_record_cpu_us(batches: list, work: Callable[[object], object], reset: Callable[[], None]) -> float:
    """CPU µs per record of `work` over every batch, best of five (`reset` before each pass)."""
    best = float("inf")
    count = sum(sum(len(m) for m in b.values()) if isinstance(b, dict) else len(b) for b in batches)
    for _ in range(5):
        reset()
        started = time.process_time()
        for batch in batches:
            work(batch)
        best = min(best, time.process_time() - started)
    return round(best / count * 1e6, 2)


def worker_paths() -> dict[str, float]:
    """The sinks' COPY line and alarm detection, per telemetry record (the module docstring)."""
    from aiokafka import TopicPartition
    from aiokafka.structs import ConsumerRecord

    from civicgrid.bus import topics
    from civicgrid.profiles import load_profiles
    from civicgrid.settings import Settings
    from streams.alarm_detection import AlarmDetector
    from streams.sinks import telemetry_rows

    settings = Settings()
    detector = AlarmDetector(settings, load_profiles(settings.profiles_dir), producer=None)  # type: ignore[arg-type]
    batches: list[dict[TopicPartition, list[ConsumerRecord]]] = []
    for seq in range(1, 41):
        batch: dict[TopicPartition, list[ConsumerRecord]] = {}
        for d in range(1000):
            at = AT + timedelta(seconds=seq)
            value = DeviceRecord(f"bench-{d:05d}", "manhole-sensor", "manhole-sensor", "telemetry", seq, at, at,
                                 {"tilt_deg": 30.0 if seq in (1, 2, 39, 40) else 1.0, "battery_pct": 80.0},
                                 "3415230102000042", "34152300100102").encode()
            tp = TopicPartition(topics.TELEMETRY, d % 6)
            batch.setdefault(tp, []).append(ConsumerRecord(tp.topic, tp.partition, seq * 1000 + d, 0, 0, b"k", value,
                                                           None, 1, len(value), ()))
        batches.append(batch)
    decoded = [orjson.loads(m.value) for b in batches for ms in b.values() for m in ms]
    sink_batches = [decoded[i:i + 2000] for i in range(0, len(decoded), 2000)]

    def fresh() -> None:
        detector.states.clear()
        detector.last_applied.clear()
        detector.last_seen.clear()

    return {"sink_telemetry_line_us": per_record_cpu_us(sink_batches, telemetry_rows, lambda: None),
            "alarm_detect_us": per_record_cpu_us(batches, detector.detect, fresh)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50_000, help="records per measurement")
    n = parser.parse_args().n
    telemetry = DeviceRecord(device_id="mh-00042", kind="manhole-sensor", profile="manhole-sensor",
                             channel="telemetry", seq=1234, ts=AT, received_at=AT,
                             data={"tilt_deg": 1.5, "water_level_cm": 12.0, "gas_ppm": 3.0, "battery_pct": 88},
                             component_code="3415230102000042", grid_cell_code="34152300100102")
    wire = telemetry.encode()
    as_dict = telemetry.as_json()
    alarm = AlarmRecord(alarm_id="mh-00042:tilt:1", device_id="mh-00042", kind="manhole-sensor", rule="tilt",
                        rule_kind="threshold", action="raise", ts=AT, value=31.0, limit=15.0, category="C0102",
                        linked_component=True, urgency="A", component_code="3415230102000042")
    alarm_wire = alarm.encode()

    def dict_reader() -> object:  # what the sinks and the alarm agent did before: loads and index
        r = orjson.loads(wire)
        return (datetime.fromisoformat(r["ts"]), r["device_id"], r["seq"], r["data"])

    figures = {
        "device_encode_typed_us": per_record_us(telemetry.encode, n),
        "device_encode_dict_us": per_record_us(lambda: records.dumps(as_dict), n),
        "device_decode_typed_us": per_record_us(lambda: DeviceRecord.decode(wire), n),
        "device_decode_dict_us": per_record_us(dict_reader, n),
        "alarm_encode_typed_us": per_record_us(alarm.encode, n),
        "alarm_decode_typed_us": per_record_us(lambda: AlarmRecord.decode(alarm_wire), n),
        **worker_paths(),
        "records_per_measurement": n,
        "cores": os.cpu_count(),
    }
    for key, value in figures.items():
        print(f"{key}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
