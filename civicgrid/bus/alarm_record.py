"""``cg.alarms``: one typed record for every alarm, whoever raises it.

Two producers raise alarms — the alarm agent from a device profile's rules
(streams/agents/alarms.py) and the patrol consumer from the patrol rules (streams/patrol.py,
``rule_kind: patrol``: about the work, never a case) — and three consumers read them (the case
builder through streams/problems.py, the alarms sink, the live feed through the database). The
keys are written once, here; `decode` refuses a record without what every reader relies on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from civicgrid.bus import records

VERSION = 1
ACTIONS = ("raise", "clear")


@dataclass(slots=True)  # not frozen: a frozen init costs ~2.5 µs a record on the hot path (bench/records.py)
class AlarmRecord:
    alarm_id: str  # stable per episode: a raise and its clear share it
    device_id: str
    kind: str | None
    rule: str
    rule_kind: str  # threshold, event, presence … or patrol
    action: str  # raise | clear
    ts: datetime
    value: Any = None
    limit: float | None = None
    category: str | None = None  # the problem's category code; None for patrol alarms
    linked_component: bool = False  # the problem is about the component the device is fitted to
    component_state: str | None = None
    urgency: str | None = None  # the disposal class (A–F) the rule gives
    device_alarm: bool = False  # about the device's own health: for operators, never a case
    component_code: str | None = None
    grid_cell_code: str | None = None
    inspector_user_id: int | None = None
    source_seq: int | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"alarm action {self.action!r} is not one of {ACTIONS}")
        if self.ts.tzinfo is None:
            raise ValueError("alarm ts must carry its time zone")

    def as_json(self) -> dict[str, Any]:
        """The record as JSON-ready data (with its version), as it travels and as evidence keeps it."""
        return {"v": VERSION, "alarm_id": self.alarm_id, "device_id": self.device_id, "kind": self.kind,
                "rule": self.rule, "rule_kind": self.rule_kind, "action": self.action, "ts": self.ts,
                "value": self.value, "limit": self.limit, "category": self.category,
                "linked_component": self.linked_component, "component_state": self.component_state,
                "urgency": self.urgency, "device_alarm": self.device_alarm, "component_code": self.component_code,
                "grid_cell_code": self.grid_cell_code, "inspector_user_id": self.inspector_user_id,
                "source_seq": self.source_seq}

    def encode(self) -> bytes:
        return records.dumps(self.as_json())

    @classmethod
    def decode(cls, value: Mapping[str, Any] | bytes) -> AlarmRecord:
        """From the wire (bytes) or an already parsed record; ValueError when a required key is missing or bad."""
        data = records.loads(value) if isinstance(value, bytes) else value
        try:
            return cls(
                alarm_id=str(data["alarm_id"]), device_id=str(data["device_id"]), kind=data.get("kind"),
                rule=str(data["rule"]), rule_kind=str(data.get("rule_kind") or "threshold"),
                action=str(data["action"]), ts=records.time_of(data["ts"]),
                value=data.get("value"), limit=data.get("limit"), category=data.get("category"),
                linked_component=bool(data.get("linked_component")), component_state=data.get("component_state"),
                urgency=data.get("urgency"), device_alarm=bool(data.get("device_alarm")),
                component_code=data.get("component_code"), grid_cell_code=data.get("grid_cell_code"),
                inspector_user_id=data.get("inspector_user_id"), source_seq=data.get("source_seq"))
        except KeyError as exc:
            raise ValueError(f"alarm record without {exc.args[0]!r}") from None
