"""The cost of the typed Kafka records on the hot paths: µs per record to encode and to decode.

Each record type of civicgrid/bus is encoded and decoded N times in one process, and so is the plain
dict form the services passed around before the types (orjson.dumps of a dict; orjson.loads plus the
fields a reader touches), so the price of the types is shown next to what it replaced. One core, no I/O.

Last line: JSON with per-type µs figures (docs/performance.md, "How the benchmarks report").
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson

from civicgrid.bus import records
from civicgrid.bus.alarm_record import AlarmRecord
from civicgrid.bus.device_records import DeviceRecord

AT = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def per_record_us(work: Callable[[], object], n: int) -> float:
    best = float("inf")
    for _ in range(5):  # best of five: the machine's noise only ever adds time
        started = time.perf_counter()
        for _ in range(n):
            work()
        best = min(best, time.perf_counter() - started)
    return round(best / n * 1e6, 2)


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
        "records_per_measurement": n,
        "cores": os.cpu_count(),
    }
    for key, value in figures.items():
        print(f"{key}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
