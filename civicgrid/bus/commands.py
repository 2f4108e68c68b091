"""Send a downlink command to a device: a record on ``cg.commands`` that a gateway turns into MQTT.

Used by the API (and the CLI); the command's fate comes back on
``cg.command-acks`` as sent → acked | failed | timed_out.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Producer

from civicgrid.bus.command_records import CommandRecord
from civicgrid.bus.topics import COMMANDS
from civicgrid.domain.devices import validate_device_id


def send_command(producer: Producer, device_id: str, name: str, args: dict[str, Any] | None = None, *,
                 timeout_s: float = 60.0, issued_by: str | None = None, now: datetime | None = None,
                 flush_s: float | None = 5.0) -> str:
    """Queue a command for `device_id`; return its command id.  `flush_s` waits for Kafka's ack."""
    validate_device_id(device_id)
    command_id = str(uuid.uuid4())
    record = CommandRecord(command_id=command_id, device_id=device_id, name=name, args=args or {},
                           issued_at=now or datetime.now(UTC), timeout_s=timeout_s, issued_by=issued_by)
    producer.produce(COMMANDS, record.encode(), device_id.encode())
    if flush_s is not None and producer.flush(flush_s) != 0:
        raise TimeoutError(f"Kafka did not acknowledge command {command_id} within {flush_s} s")
    return command_id
