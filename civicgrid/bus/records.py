"""Kafka records' common ground: orjson encoding, the schema version, and the dead letter.

Every record is a JSON object with ``v`` (schema version).  Times are UTC ISO
8601 with ``Z``.  Keys: device id (device records, dead letters, commands),
case id (``cg.case-events``). One typed class per topic: `DeadLetterRecord` here,
the device records in device_records.py, alarms in alarm_record.py, commands and
acks in command_records.py; case events are the lifecycle's `Transition.record()`.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

SCHEMA_VERSION = 1
_OPTS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def time_of(value: Any) -> datetime:
    """A record's time: a datetime, or ISO 8601 text (``Z`` or an offset); one without a time zone is refused."""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise ValueError("a record's times carry their time zone")
    return at


def dumps(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record, option=_OPTS)


def loads(data: bytes) -> dict[str, Any]:
    """A record; a payload that is JSON but not an object is refused like malformed JSON."""
    value = orjson.loads(data)
    if not isinstance(value, dict):
        raise ValueError(f"a record is a JSON object, not {type(value).__name__}")
    return value


def device_record(*, device_id: str, kind: str, profile: str, channel: str, seq: int, ts: datetime,
                  received_at: datetime, data: dict[str, Any], links: dict[str, Any]) -> dict[str, Any]:
    """A validated device message as data (cg.telemetry, cg.events, cg.tracks, cg.reports): the typed
    `civicgrid.bus.device_records.DeviceRecord`'s JSON form, for callers that build dicts (tests, benches)."""
    from civicgrid.bus.device_records import DeviceRecord

    return DeviceRecord(device_id=device_id, kind=kind, profile=profile, channel=channel, seq=seq, ts=ts,
                        received_at=received_at, data=data, **links).as_json()


def status_record(*, device_id: str, kind: str | None, state: str, ts: datetime, retained: bool,
                  source: str, detail: dict[str, Any] | None = None, profile: str | None = None) -> dict[str, Any]:
    """Presence (cg.status) as data: the typed `civicgrid.bus.device_records.StatusRecord`'s JSON form."""
    from civicgrid.bus.device_records import StatusRecord

    return StatusRecord(device_id=device_id, kind=kind, state=state, ts=ts, retained=retained, source=source,
                        profile=profile, detail=detail or {}).as_json()


# What a dead letter keeps of a payload it cannot keep whole (an oversized one, or one Kafka refused).
DEAD_LETTER_KEEP_BYTES = 4096


@dataclass(slots=True)  # not frozen: a frozen init costs ~2.5 µs a record on the hot path (bench/records.py)
class DeadLetterRecord:
    """What could not be accepted (cg.deadletter): the original bytes (or their first part), where they came
    from, and why. The SHA-256 of the whole payload is always there, so an oversized publish cannot make a
    dead letter that Kafka refuses in turn."""

    reason: str
    detail: str
    mqtt_topic: str  # the MQTT topic, or "kafka:<topic>" for a record a consumer could not use
    device_id: str | None
    received_at: datetime
    payload_b64: str
    size: int
    truncated: bool
    sha256: str

    @classmethod
    def of(cls, *, payload: bytes, mqtt_topic: str, device_id: str | None, reason: str, detail: str,
           received_at: datetime, keep_bytes: int | None = None) -> DeadLetterRecord:
        """The dead letter of `payload`; with `keep_bytes`, only that many first bytes are kept (``truncated``)."""
        kept = payload if keep_bytes is None else payload[:keep_bytes]
        return cls(reason=reason, detail=detail, mqtt_topic=mqtt_topic, device_id=device_id,
                   received_at=received_at, payload_b64=base64.b64encode(kept).decode("ascii"), size=len(payload),
                   truncated=len(kept) < len(payload), sha256=hashlib.sha256(payload).hexdigest())

    def as_json(self) -> dict[str, Any]:
        return {"v": SCHEMA_VERSION, **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}}

    def encode(self) -> bytes:
        return dumps(self.as_json())

    @classmethod
    def decode(cls, value: dict[str, Any] | bytes) -> DeadLetterRecord:
        d = loads(value) if isinstance(value, bytes) else value
        try:
            return cls(reason=str(d["reason"]), detail=str(d.get("detail", "")), mqtt_topic=str(d["mqtt_topic"]),
                       device_id=d.get("device_id"), received_at=time_of(d["received_at"]),
                       payload_b64=str(d["payload_b64"]), size=int(d["size"]), truncated=bool(d.get("truncated")),
                       sha256=str(d["sha256"]))
        except KeyError as exc:
            raise ValueError(f"dead letter without {exc.args[0]!r}") from None

    def payload(self) -> bytes:
        """The bytes kept (all of them unless `truncated`)."""
        return base64.b64decode(self.payload_b64)
