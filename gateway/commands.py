"""Downlink commands: ``cg.commands`` → ``cg/<id>/cmd``, and each command's fate on ``cg.command-acks``.

A command is *sent* when the broker accepted the publish, *acked* or *failed*
when the device answers on ``cg/<id>/cmd/ack``, and *timed_out* when no answer
came within its timeout.  With several gateways the answer may reach another
gateway than the sender; the store settles the state from the records (an
``acked`` or ``failed`` wins over a ``timed_out``).

A device bound to a carrier platform (NB-IoT, docs/carriers.md) is not on MQTT: its commands go through the
platform's API from the carrier gateway (gateway/carriers/downlink.py), and `over_mqtt` is the one rule that
splits the two transports.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.registry import DeviceInfo

log = logging.getLogger(__name__)


def over_mqtt(device: DeviceInfo | None) -> bool:
    """Whether the MQTT gateway sends this device's commands (an unknown device's too: it times out, as before);
    the carrier gateway sends those of a device bound to a platform."""
    return device is None or device.carrier is None


@dataclass(slots=True)
class PendingCommand:
    command_id: str
    device_id: str
    deadline: datetime


class CommandTracker:
    def __init__(self) -> None:
        self._pending: dict[str, PendingCommand] = {}
        self._lock = threading.Lock()

    def sent(self, command_id: str, device_id: str, timeout_s: float, now: datetime) -> None:
        with self._lock:
            self._pending[command_id] = PendingCommand(command_id, device_id, now + timedelta(seconds=timeout_s))

    def answered(self, command_id: str) -> PendingCommand | None:
        with self._lock:
            return self._pending.pop(command_id, None)

    def expired(self, now: datetime) -> list[PendingCommand]:
        with self._lock:
            gone = [p for p in self._pending.values() if p.deadline <= now]
            for p in gone:
                del self._pending[p.command_id]
        return gone

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, command_id: object) -> bool:
        return command_id in self._pending


def command_payload(command_id: str, name: str, args: dict, issued_at: str | datetime) -> dict:
    """What the device receives on cg/<id>/cmd (it answers with the same command_id)."""
    return {"command_id": command_id, "name": name, "args": args,
            "ts": issued_at if isinstance(issued_at, str) else issued_at.astimezone(UTC)}
