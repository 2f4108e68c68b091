"""A carrier's message in, the MQTT gateway's records out: the carrier gateway's decision, free of sockets.

The device's bytes are decoded with its profile's binary layout and then handed to the MQTT gateway's own
`Ingestor` as the JSON the same device would publish on ``cg/{id}/telemetry`` (or ``status``), so validation,
normalisation, dedup and dead letters are the MQTT path's, not a copy. A dead letter keeps the carrier's
original request body and names ``carrier/{platform}/{carrier id}`` as where it came from.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from civicgrid.bus import records
from civicgrid.bus import topics as kafka
from civicgrid.profiles import DeviceProfile
from gateway.carriers.errors import CarrierError, CarrierReason
from gateway.carriers.layout import CompiledLayout
from gateway.carriers.messages import CarrierMessage
from gateway.ingest import Ingestor, Output
from gateway.registry import DeviceInfo

log = logging.getLogger(__name__)


class CarrierIngest:
    def __init__(self, ingestor: Ingestor, profiles: dict[str, DeviceProfile],
                 lookup: Callable[[str], DeviceInfo | None],
                 on_command_response: Callable[[CarrierMessage, str], Output | None] | None = None) -> None:
        self.ingestor = ingestor
        self.on_command_response = on_command_response
        self.lookup = lookup
        self.layouts = {kind: CompiledLayout(p.channels["telemetry"].binary) for kind, p in profiles.items()
                        if "telemetry" in p.channels and p.channels["telemetry"].binary is not None}
        self.counts: Counter[str] = Counter()

    def handle(self, message: CarrierMessage, device_id: str | None, body: bytes,
               received_at: datetime | None = None) -> Output | None:
        """The record for `message` (whose carrier id the bindings resolved to `device_id`, or None)."""
        received_at = received_at or datetime.now(UTC)
        where = f"carrier/{message.platform}/{message.carrier_device_id}"
        try:
            if device_id is None:
                raise CarrierError(CarrierReason.UNKNOWN_DEVICE, f"{message.platform} device "
                                   f"{message.carrier_device_id!r} is bound to no device (devices bind-carrier)")
            device = self.lookup(device_id)
            if device is None:
                raise CarrierError(CarrierReason.UNKNOWN_DEVICE, f"device {device_id!r} is not in the registry")
            if not device.enabled:
                raise CarrierError(CarrierReason.DEVICE_DISABLED, f"device {device_id!r} is disabled")
            self.counts[message.kind] += 1
            match message.kind:
                case "data":
                    return self._telemetry(device, message, body, where, received_at)
                case "online" | "offline":
                    status: dict[str, Any] = {"state": message.kind, "via": message.platform}
                    if message.at is not None:
                        status["ts"] = int(message.at.timestamp() * 1000)
                    return self._ingest(f"cg/{device_id}/status", orjson.dumps(status), body, where, received_at)
                case "command_response":
                    # The command's step (gateway/carriers/downlink.py), or nothing while it is under way.
                    return self.on_command_response(message, device_id) if self.on_command_response else None
                case _:
                    # The platform's own news (device added, …): answered and counted, nothing to forward.
                    log.info("%s message %s for %s: %s", message.platform, message.kind, device_id,
                             str(message.detail)[:200])
                    return None
        except CarrierError as exc:
            return self.dead_letter(body, where, device_id, exc.reason, exc.detail, received_at)

    def _telemetry(self, device: DeviceInfo, message: CarrierMessage, body: bytes, where: str,
                   received_at: datetime) -> Output | None:
        fields: dict[str, Any]
        if message.payload is not None:
            layout = self.layouts.get(device.profile)
            if layout is None:
                raise CarrierError(CarrierReason.NO_LAYOUT, f"profile {device.profile!r} declares no binary layout "
                                   "for telemetry")
            fields = layout.decode(message.payload)
        else:
            fields = dict(message.fields)
        at = message.at or received_at
        # The device's own counter when its layout has one, else the platform's packet number, else the time (ms).
        seq = fields.pop("seq", None)
        if seq is None:
            seq = message.seq if message.seq is not None else int(at.timestamp() * 1000)
        payload = orjson.dumps({**fields, "seq": seq, "ts": int(at.timestamp() * 1000)})
        return self._ingest(f"cg/{device.device_id}/telemetry", payload, body, where, received_at)

    def _ingest(self, topic: str, payload: bytes, body: bytes, where: str, received_at: datetime) -> Output | None:
        out = self.ingestor.handle(topic, payload, received_at=received_at)
        if out is None or out.accepted:
            return out
        # The MQTT path's verdict, with the carrier's own request as the evidence.
        letter = records.DeadLetterRecord.decode(out.value)
        return self.dead_letter(body, where, letter.device_id, letter.reason, letter.detail, received_at)

    def dead_letter(self, body: bytes, where: str, device_id: str | None, reason: str, detail: str,
                    received_at: datetime) -> Output:
        self.counts[f"dead_letter:{reason}"] += 1
        record = records.DeadLetterRecord.of(payload=body, mqtt_topic=where, device_id=device_id, reason=reason,
                                             detail=detail, received_at=received_at,
                                             keep_bytes=records.DEAD_LETTER_KEEP_BYTES)
        return Output(kafka.DEADLETTER, (device_id or "unknown").encode(), record.encode(), False, reason)
