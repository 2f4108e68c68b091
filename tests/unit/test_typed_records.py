"""Typed Kafka records: cg.alarms has one record type (both producers' records decode to it); commands, their
acks, device messages and presence one each; a record missing what the readers rely on is refused (its
reader dead-letters it)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from civicgrid.bus import records
from civicgrid.bus.alarm_record import AlarmRecord
from civicgrid.bus.command_records import CommandAckRecord, CommandRecord
from civicgrid.bus.device_records import DeviceRecord, StatusRecord

AT = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def test_a_record_round_trips_with_its_version() -> None:
    alarm = AlarmRecord(alarm_id="mh-1:tilt:1", device_id="mh-1", kind="manhole-sensor", rule="tilt",
                        rule_kind="threshold", action="raise", ts=AT, value=31.0, limit=15.0, category="C0102",
                        linked_component=True, urgency="A")
    wire = alarm.encode()
    assert records.loads(wire)["v"] == 1
    assert AlarmRecord.decode(wire) == alarm


@pytest.mark.parametrize("broken", [{"action": "explode"}, {"ts": "2026-11-24T01:00:00"}, {"alarm_id": None}])
def test_a_broken_record_is_refused(broken: dict) -> None:
    good = AlarmRecord(alarm_id="a", device_id="d", kind=None, rule="r", rule_kind="event", action="clear",
                       ts=AT).as_json()
    data = {k: v for k, v in {**good, **broken}.items() if v is not None or k not in broken}
    data = records.loads(records.dumps(data))
    with pytest.raises(ValueError):
        AlarmRecord.decode(data)


def test_a_command_and_its_acks_round_trip_and_a_bad_one_is_refused() -> None:
    command = CommandRecord(command_id="c-1", device_id="hh-1", name="verify", issued_at=AT, timeout_s=1800.0,
                            args={"task_id": "x"}, issued_by="op")
    assert CommandRecord.decode(command.encode()) == command
    assert CommandRecord.decode(command.as_json()) == command  # as the outbox stores it
    ack = CommandAckRecord(command_id="c-1", device_id="hh-1", status="acked", ts=AT, detail="ok")
    assert CommandAckRecord.decode(ack.encode()) == ack
    with pytest.raises(ValueError):
        CommandAckRecord.decode({**records.loads(ack.encode()), "status": "lost"})
    with pytest.raises(ValueError):
        CommandRecord.decode(b'{"v": 1, "device_id": "hh-1"}')
    with pytest.raises(ValueError):
        CommandRecord.decode(b"[1, 2]")


def test_device_and_status_records_round_trip_and_refuse_what_readers_cannot_use() -> None:
    rec = DeviceRecord(device_id="mh-1", kind="manhole-sensor", profile="manhole-sensor", channel="telemetry", seq=3,
                       ts=AT, received_at=AT, data={"tilt_deg": 2.0}, component_code="c-1", grid_cell_code="3415")
    assert DeviceRecord.decode(rec.encode()) == rec
    status = StatusRecord(device_id="mh-1", kind="manhole-sensor", state="offline", ts=AT, retained=True,
                          source="device", detail={"reason": "lwt"})
    assert StatusRecord.decode(status.encode()) == dataclasses.replace(status, profile="manhole-sensor")
    for broken in (b'{"v": 1, "device_id": "x"}', b'{"v": 1, "device_id": "x", "kind": "k", "seq": "n", "ts": '
                   b'"2026-11-24T01:00:00Z", "data": {}}', b'{"v": 1, "device_id": "x", "kind": "k", "seq": 1, '
                   b'"ts": "2026-11-24T01:00:00", "data": {}}', b'{"v": 1, "device_id": "x", "kind": "k", "seq": 1, '
                   b'"ts": "2026-11-24T01:00:00Z", "data": [1]}'):
        with pytest.raises(ValueError):
            DeviceRecord.decode(broken)
    with pytest.raises(ValueError):
        StatusRecord.decode(b'{"v": 1, "device_id": "x", "state": "sleeping", "ts": "2026-11-24T01:00:00Z"}')


def test_a_dead_letter_keeps_the_bytes_or_their_first_part_and_always_the_digest() -> None:
    whole = records.DeadLetterRecord.of(payload=b"\x00bad", mqtt_topic="cg/x/telemetry", device_id="x",
                                        reason="schema", detail="fill_pct", received_at=AT)
    assert records.DeadLetterRecord.decode(whole.encode()) == whole and whole.payload() == b"\x00bad"
    cut = records.DeadLetterRecord.of(payload=bytes(10_000), mqtt_topic="kafka:cg.tracks", device_id=None,
                                      reason="stream_unreadable", detail="", received_at=AT, keep_bytes=100)
    assert (cut.size, cut.truncated, len(cut.payload())) == (10_000, True, 100)
    assert cut.sha256 == records.DeadLetterRecord.of(payload=bytes(10_000), mqtt_topic="", device_id=None,
                                                     reason="", detail="", received_at=AT).sha256
