"""One MQTT message in, one Kafka record out: the gateway's decision, free of sockets.

`Ingestor.handle` parses the topic, looks the device up, validates and
normalises the payload by its profile, drops duplicates, and returns the
record to produce: on the channel's topic when accepted, on
``cg.deadletter`` (original bytes, reason, detail) when not, or nothing for a
duplicate.  It never raises: an unexpected error in a handler becomes a dead
letter with reason ``internal_error`` so one bad payload cannot stop the loop.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from civicgrid.bus import records
from civicgrid.bus import topics as kafka
from civicgrid.bus.command_records import CommandAckRecord
from civicgrid.bus.device_records import DeviceRecord, StatusRecord
from civicgrid.profiles import ChannelFormat, DeviceProfile
from civicgrid.settings import GatewaySettings
from gateway import nmea
from gateway.dedup import SeqWindow
from gateway.refusals import refusal_notice, refused_topic
from gateway.registry import DeviceInfo
from gateway.rejections import Reason, Rejected
from gateway.topics import COMMAND_ACK, DOWNLINK, KAFKA_TOPIC_OF_CHANNEL, parse_topic
from gateway.validation import TimestampParser, compile_channel, parse_seq

log = logging.getLogger(__name__)

INTERNAL_ERROR = "internal_error"
# Refusals not told to the device: it is unknown or disabled (nobody to tell), or the topic names no device.
_UNTOLD = frozenset({Reason.UNKNOWN_DEVICE, Reason.DEVICE_DISABLED, Reason.BAD_TOPIC})


@dataclass(frozen=True, slots=True)
class Output:
    """A record to produce; `accepted` is False for dead letters. `notice`: (MQTT topic, payload) to publish to
    the device once the dead letter is in Kafka (gateway/refusals.py)."""

    topic: str
    key: bytes
    value: bytes
    accepted: bool
    reason: str | None = None
    notice: tuple[str, bytes] | None = None


class Ingestor:
    def __init__(self, profiles: dict[str, DeviceProfile], lookup: Callable[[str], DeviceInfo | None],
                 settings: GatewaySettings,
                 on_command_ack: Callable[[str, str, str, str], None] | None = None) -> None:
        self.lookup = lookup
        self.max_bytes = settings.max_payload_bytes
        self.timestamps = TimestampParser(settings.naive_timezone, settings.max_clock_future_s)
        self.dedup = SeqWindow(settings.dedup_window)
        self.on_command_ack = on_command_ack
        self.validators = {
            (kind, channel): compile_channel(spec)
            for kind, profile in profiles.items()
            for channel, spec in profile.channels.items()
        }
        self.formats = {(kind, ch): spec.format for kind, p in profiles.items() for ch, spec in p.channels.items()}
        self.counts: Counter[str] = Counter()

    # -- entry point ---------------------------------------------------------------
    def handle(self, mqtt_topic: str, payload: bytes, retained: bool = False,
               received_at: datetime | None = None) -> Output | None:
        received_at = received_at or datetime.now(UTC)
        # The topic names the device even when the rest is wrong; dead letters carry it.
        parts = mqtt_topic.split("/", 2)
        device_id = parts[1] if len(parts) == 3 and parts[0] == "cg" and parts[1] else None
        try:
            if len(payload) > self.max_bytes:
                return self._dead_letter(payload, mqtt_topic, device_id, Reason.TOO_LARGE,
                                         f"{len(payload)} bytes is over the limit of {self.max_bytes}", received_at,
                                         keep_bytes=records.DEAD_LETTER_KEEP_BYTES)
            where = parse_topic(mqtt_topic)
            device_id = where.device_id
            if where.channel in DOWNLINK:
                return None  # our own downlink (a command, a refusal), seen through cg/+/+: nothing to forward
            device = self.lookup(device_id)
            if device is None:
                raise Rejected(Reason.UNKNOWN_DEVICE, f"device {device_id!r} is not in the registry")
            if not device.enabled:
                raise Rejected(Reason.DEVICE_DISABLED, f"device {device_id!r} is disabled")
            return self._accept(device, where.channel, payload, retained, received_at)
        except Rejected as rejected:
            return self._dead_letter(payload, mqtt_topic, device_id, rejected.reason, rejected.detail, received_at)
        except Exception as exc:  # one bad payload must never stop the gateway
            log.exception("unexpected error on %s (%d bytes)", mqtt_topic, len(payload))
            return self._dead_letter(payload, mqtt_topic, device_id, INTERNAL_ERROR, repr(exc)[:500], received_at)

    # -- channels ------------------------------------------------------------------
    def _accept(self, device: DeviceInfo, channel: str, payload: bytes, retained: bool,
                received_at: datetime) -> Output | None:
        if channel == "status":
            return self._presence(device, payload, retained, received_at)
        if channel == COMMAND_ACK:
            return self._command_ack(device, payload, received_at)
        validate = self.validators.get((device.profile, channel))
        if validate is None:
            raise Rejected(Reason.UNKNOWN_CHANNEL, f"profile {device.profile!r} has no channel {channel!r}")
        if self.formats[device.profile, channel] is ChannelFormat.NMEA and payload.lstrip()[:1] != b"{":
            return self._nmea_track(device, payload, received_at)
        obj = _json_object(payload)
        seq = parse_seq(obj)
        ts = self.timestamps(obj.get("ts"), received_at)
        data = validate(obj)
        if channel == "track":
            data["fix_valid"] = True
        return self._forward(device, channel, seq, ts, received_at, data, payload)

    def _forward(self, device: DeviceInfo, channel: str, seq: int, ts: datetime, received_at: datetime,
                 data: dict[str, Any], payload: bytes) -> Output | None:
        if self.dedup.is_duplicate(device.device_id, seq, payload):
            self.counts["duplicate"] += 1
            return None
        record = DeviceRecord(device_id=device.device_id, kind=device.kind, profile=device.profile, channel=channel,
                              seq=seq, ts=ts, received_at=received_at, data=data, **device.links)
        self.counts[channel] += 1
        return Output(KAFKA_TOPIC_OF_CHANNEL[channel], device.key, record.encode(), True)

    def _nmea_track(self, device: DeviceInfo, payload: bytes, received_at: datetime) -> Output | None:
        try:
            fixes = nmea.parse_payload(payload)
        except nmea.NmeaRejected as exc:
            raise Rejected(Reason(f"nmea_{exc.reason}"), exc.detail) from None
        point = nmea.merge_fixes(fixes)
        if point is not None:
            ts = point.time or received_at
            data = {"lat": point.lat, "lon": point.lon, "speed_mps": point.speed_mps, "heading_deg": point.course_deg,
                    "hdop": point.hdop, "satellites": point.satellites, "altitude_m": point.altitude_m,
                    "fix_quality": point.fix_quality, "fix_valid": True, "source": "nmea"}
        else:
            # Well-formed but no usable fix (status V, quality 0, simulator mode): a no-fix
            # record, so the streams see the receiver alive but lost; its coordinates, even
            # when present, are not a position and are not passed on.
            latest = fixes[-1]
            ts = latest.datetime_utc or received_at
            data = {"lat": None, "lon": None, "speed_mps": None, "heading_deg": None, "hdop": latest.hdop,
                    "satellites": latest.satellites, "altitude_m": None, "fix_quality": latest.fix_quality,
                    "fix_valid": False, "source": "nmea"}
        if ts - received_at > self.timestamps.max_future:
            raise Rejected(Reason.CLOCK_FUTURE, f"fix time {ts.isoformat()} is ahead of the gateway clock")
        # Raw NMEA carries no counter: the fix time (ms) is the per-device sequence.
        seq = int(ts.timestamp() * 1000)
        return self._forward(device, "track", seq, ts, received_at, data, payload)

    def _presence(self, device: DeviceInfo, payload: bytes, retained: bool, received_at: datetime) -> Output:
        text = payload.strip()
        detail: dict[str, Any] = {}
        ts = received_at
        if text in (b"online", b"offline"):
            state = text.decode()
        else:
            obj = _json_object(payload)
            state = obj.get("state")
            if state not in ("online", "offline"):
                raise Rejected(Reason.SCHEMA, "state: must be 'online' or 'offline'")
            if "ts" in obj:
                ts = self.timestamps(obj["ts"], received_at)
            detail = {k: v for k, v in obj.items() if k not in ("state", "ts")}
        record = StatusRecord(device_id=device.device_id, kind=device.kind, state=state, ts=ts, retained=retained,
                              source="device", detail=detail, profile=device.profile)
        self.counts["status"] += 1
        return Output(kafka.STATUS, device.key, record.encode(), True)

    def _command_ack(self, device: DeviceInfo, payload: bytes, received_at: datetime) -> Output:
        obj = _json_object(payload)
        command_id, status = obj.get("command_id"), obj.get("status")
        if not isinstance(command_id, str) or not command_id:
            raise Rejected(Reason.SCHEMA, "command_id: required")
        try:  # the API issues UUIDs; anything else answers no command and would only trouble the store
            command_id = str(uuid.UUID(command_id))
        except ValueError:
            raise Rejected(Reason.SCHEMA, f"command_id: not a UUID: {command_id[:60]!r}") from None
        if status not in ("ok", "failed"):
            raise Rejected(Reason.SCHEMA, "status: must be 'ok' or 'failed'")
        detail = str(obj.get("detail", ""))[:500]
        outcome = "acked" if status == "ok" else "failed"
        if self.on_command_ack is not None:
            self.on_command_ack(command_id, device.device_id, outcome, detail)
        record = CommandAckRecord(command_id=command_id, device_id=device.device_id, status=outcome, ts=received_at,
                                  detail=detail)
        self.counts["cmd_ack"] += 1
        return Output(kafka.COMMAND_ACKS, device.key, record.encode(), True)

    def _dead_letter(self, payload: bytes, mqtt_topic: str, device_id: str | None, reason: str, detail: str,
                     received_at: datetime, keep_bytes: int | None = None) -> Output:
        self.counts[f"dead_letter:{reason}"] += 1
        record = records.DeadLetterRecord.of(payload=payload, mqtt_topic=mqtt_topic, device_id=device_id,
                                             reason=reason, detail=detail, received_at=received_at,
                                             keep_bytes=keep_bytes)
        return Output(kafka.DEADLETTER, (device_id or "unknown").encode(), record.encode(), False, reason,
                      self._notice(payload, mqtt_topic, device_id, reason, detail, received_at))

    def _notice(self, payload: bytes, mqtt_topic: str, device_id: str | None, reason: str, detail: str,
                received_at: datetime) -> tuple[str, bytes] | None:
        """The refusal notice for a registered, enabled device (docs/gateway.md, "Refusals")."""
        if device_id is None or reason in _UNTOLD:
            return None
        device = self.lookup(device_id)
        if device is None or not device.enabled:
            return None
        channel = mqtt_topic.split("/", 2)[2] if mqtt_topic.count("/") >= 2 else None
        parsed = payload if len(payload) <= self.max_bytes else None
        return refused_topic(device_id), refusal_notice(parsed, channel, reason, detail, received_at)


def _json_object(payload: bytes) -> dict[str, Any]:
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise Rejected(Reason.NOT_JSON, f"not UTF-8 JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise Rejected(Reason.SCHEMA, f"expected a JSON object, got {type(obj).__name__}")
    return obj
