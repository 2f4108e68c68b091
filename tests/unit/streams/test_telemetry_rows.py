"""The sinks' COPY lines for telemetry (streams/sinks.py `telemetry_rows`), pure: the usual record takes the short
path, and any field holding a character COPY's text format escapes (backslash, tab, newline, carriage return)
comes out escaped exactly as field-by-field escaping writes it. The database's reading of such lines is
tests/integration/streams/test_sinks.py."""

from __future__ import annotations

import orjson
import pytest

from streams.sinks import telemetry_rows

TS = "2026-12-06T08:00:01.250000Z"
RECEIVED = "2026-12-06T16:00:02+08:00"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _line(ts: str, device: str, seq: int, received: str, data: dict) -> bytes:
    payload = orjson.dumps(data).decode()
    return "\t".join([_escape(ts), _escape(device), str(seq), _escape(received), _escape(payload)]).encode() + b"\n"


def test_a_plain_record_is_one_line_of_its_own_fields() -> None:
    data = {"tilt_deg": 1.5, "battery_pct": 80, "note": "井盖"}
    assert telemetry_rows([{"ts": TS, "received_at": RECEIVED, "device_id": "mh-1", "seq": 7, "data": data}]) == [
        f"{TS}\tmh-1\t7\t{RECEIVED}\t".encode() + orjson.dumps(data) + b"\n"]


@pytest.mark.parametrize(("device", "ts", "data"), [
    ("mh\\1", TS, {"x": 1}),                   # a backslash in the device id
    ("mh\t1", TS, {"x": 1}),                   # a tab: one more field for COPY, unless escaped
    ("mh\n1", TS, {"x": 1}),
    ("mh\r1", TS, {"x": 1}),
    ("mh-1", "2026-12-06\t08:00:01Z", {"x": 1}),  # ISO 8601 allows any character between date and time
    ("mh-1", "2026-12-06\\08:00:01Z", {"x": 1}),
    ("mh-1", "2026-12-06\n08:00:01Z", {"x": 1}),
    ("mh-1", TS, {"note": "a\\b"}),            # JSON's own escapes are backslashes: doubled for COPY
    ("mh-1", TS, {"quote": '"x"'}),
    ("mh-1", TS, {"note": "a\tb\nc\rd"}),
])
def test_every_character_copy_escapes_is_escaped_in_every_field(device: str, ts: str, data: dict) -> None:
    record = {"ts": ts, "received_at": RECEIVED, "device_id": device, "seq": 3, "data": data}
    assert telemetry_rows([record]) == [_line(ts, device, 3, RECEIVED, data)]


def test_a_record_the_table_cannot_take_is_refused_not_written() -> None:
    good = {"ts": TS, "device_id": "mh-1", "seq": 1, "data": {"x": 1}}
    with pytest.raises(ValueError, match="time zone"):
        telemetry_rows([{**good, "ts": "2026-12-06T08:00:00"}])
    with pytest.raises(ValueError, match="time zone"):
        telemetry_rows([{**good, "received_at": "2026-12-06T08:00:00"}])
    with pytest.raises(ValueError):
        telemetry_rows([{**good, "ts": "yesterday"}])
    with pytest.raises(TypeError):
        telemetry_rows([{**good, "device_id": 17}])
    with pytest.raises(ValueError, match="object"):
        telemetry_rows([{**good, "data": [1]}])
    assert telemetry_rows([{**good, "seq": "5"}])[0].split(b"\t")[2] == b"5"
    assert telemetry_rows([good])[0].split(b"\t")[3] == TS.encode()  # no received_at: the device's time
