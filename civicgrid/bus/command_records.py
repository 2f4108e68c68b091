"""``cg.commands`` and ``cg.command-acks``: a downlink command and the steps of its life, typed.

A command is written by the API (a console command, `civicgrid/bus/commands.py`) or by the case
service (a field task, through the outbox), read by the gateway that publishes it on
``cg/<device>/cmd``; its steps (sent → acked | failed | timed_out) come back from the gateway and
are applied by the API's ack reader. Each record carries its schema version ``v``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from civicgrid.bus import records

VERSION = 1
ACK_STATES = ("sent", "acked", "failed", "timed_out")


@dataclass(slots=True)  # not frozen: a frozen init costs ~2.5 µs a record on the hot path (bench/records.py)
class CommandRecord:
    command_id: str
    device_id: str
    name: str
    issued_at: datetime
    timeout_s: float
    args: dict[str, Any] = field(default_factory=dict)
    issued_by: str | None = None

    def as_json(self) -> dict[str, Any]:
        """JSON-ready (ISO times): what the outbox stores and Kafka carries."""
        return {"v": VERSION, "command_id": self.command_id, "device_id": self.device_id, "name": self.name,
                "args": self.args, "issued_at": self.issued_at.isoformat(), "timeout_s": self.timeout_s,
                "issued_by": self.issued_by}

    def encode(self) -> bytes:
        return records.dumps(self.as_json())

    @classmethod
    def decode(cls, value: Mapping[str, Any] | bytes) -> CommandRecord:
        data = records.loads(value) if isinstance(value, bytes) else value
        try:
            args = data.get("args") or {}
            if not isinstance(args, dict):
                raise ValueError("command args must be an object")
            return cls(command_id=str(data["command_id"]), device_id=str(data["device_id"]), name=str(data["name"]),
                       issued_at=records.time_of(data["issued_at"]), timeout_s=float(data["timeout_s"]), args=args,
                       issued_by=data.get("issued_by"))
        except KeyError as exc:
            raise ValueError(f"command record without {exc.args[0]!r}") from None


@dataclass(slots=True)  # not frozen: a frozen init costs ~2.5 µs a record on the hot path (bench/records.py)
class CommandAckRecord:
    command_id: str
    device_id: str
    status: str  # sent | acked | failed | timed_out
    ts: datetime
    detail: str = ""

    def __post_init__(self) -> None:
        if self.status not in ACK_STATES:
            raise ValueError(f"command status {self.status!r} is not one of {ACK_STATES}")

    def encode(self) -> bytes:
        return records.dumps({"v": VERSION, "command_id": self.command_id, "device_id": self.device_id,
                              "status": self.status, "ts": self.ts, "detail": self.detail})

    @classmethod
    def decode(cls, value: Mapping[str, Any] | bytes) -> CommandAckRecord:
        data = records.loads(value) if isinstance(value, bytes) else value
        try:
            return cls(command_id=str(data["command_id"]), device_id=str(data["device_id"]),
                       status=str(data["status"]), ts=records.time_of(data["ts"]), detail=str(data.get("detail", "")))
        except KeyError as exc:
            raise ValueError(f"command ack without {exc.args[0]!r}") from None
