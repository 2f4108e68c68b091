"""The sinks' COPY rows for telemetry (streams/sinks.py `telemetry_rows`), pure: each record is one row of
PostgreSQL's binary COPY format holding its own fields exactly (no escaping: any character arrives as sent), and a
record the table cannot take is refused with a reason instead of failing the batch's COPY. The database's reading
of such rows is tests/integration/streams/test_sinks.py."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from streams.sinks import telemetry_rows

TS = "2026-12-06T08:00:01.250000Z"
RECEIVED = "2026-12-06T16:00:02+08:00"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _fields(row: bytes) -> tuple[datetime, str, int, datetime, dict]:
    """A binary COPY row read back: five fields, each its length and its bytes."""
    (count,), at, values = struct.unpack_from("!h", row), 2, []
    for _ in range(count):
        (length,) = struct.unpack_from("!i", row, at)
        values.append(row[at + 4:at + 4 + length])
        at += 4 + length
    assert at == len(row), "nothing after the fifth field"
    time, device, seq, received, payload = values
    assert payload[:1] == b"\x01", "jsonb's binary version"

    def when(raw: bytes) -> datetime:
        return EPOCH + timedelta(microseconds=struct.unpack("!q", raw)[0])

    return when(time), device.decode(), struct.unpack("!q", seq)[0], when(received), orjson.loads(payload[1:])


def test_a_record_is_one_row_of_its_own_fields() -> None:
    data = {"tilt_deg": 1.5, "battery_pct": 80, "note": "井盖"}
    (row,) = telemetry_rows([{"ts": TS, "received_at": RECEIVED, "device_id": "mh-1", "seq": 7, "data": data}])
    assert _fields(row) == (datetime(2026, 12, 6, 8, 0, 1, 250000, tzinfo=UTC), "mh-1", 7,
                            datetime(2026, 12, 6, 8, 0, 2, tzinfo=UTC), data)


@pytest.mark.parametrize(("device", "data"), [
    ("mh\\1\t\n\r", {"x": 1}),  # the characters COPY's text format escapes: nothing to escape in binary
    ("mh-1", {"note": "a\\b\tc\nd\re", "quote": '"x"'}),
    ("mh-1", {"literal": "\\u0000"}),  # the six characters, not a NUL: taken
])
def test_any_character_is_carried_as_it_was_sent(device: str, data: dict) -> None:
    (row,) = telemetry_rows([{"ts": TS, "received_at": RECEIVED, "device_id": device, "seq": 3, "data": data}])
    assert _fields(row)[1::3] == (device, data)


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
    with pytest.raises(ValueError, match="NUL"):
        telemetry_rows([{**good, "data": {"note": "a\x00b"}}])
    with pytest.raises(ValueError, match="NUL"):
        telemetry_rows([{**good, "device_id": "mh\x001"}])
    with pytest.raises(ValueError, match="seq"):
        telemetry_rows([{**good, "seq": 2**63}])
    assert _fields(telemetry_rows([{**good, "seq": "5"}])[0])[2] == 5
    (row,) = telemetry_rows([good])
    assert _fields(row)[3] == _fields(row)[0]  # no received_at: the device's time
