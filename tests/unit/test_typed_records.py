"""Typed Kafka records: cg.alarms has one record type (both producers' records decode to it), commands and their
acks another each; a record missing what the readers rely on is refused (its reader dead-letters it)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from civicgrid.bus import records
from civicgrid.bus.alarm_record import AlarmRecord
from civicgrid.bus.command_records import CommandAckRecord, CommandRecord

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
