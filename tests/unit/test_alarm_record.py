"""cg.alarms has one record type: both producers' records decode to it, and a record missing what the readers
rely on is refused (the sink and the case builder dead-letter it)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from civicgrid.bus import records
from civicgrid.bus.alarm_record import AlarmRecord

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
