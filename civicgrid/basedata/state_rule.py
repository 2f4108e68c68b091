"""A component's state follows its cases (pure; docs/basedata.md "State follows cases").

- A case about a component is reported (its first event): the component takes the state the report says — a
  sensor's ``component_state`` (a manhole cover opened or gone: ``missing``), an Open311 attribute such as
  ``cover_state=missing``, a handheld's ``component_state`` — and ``damaged`` (破损) when the report does not say:
  a case about a component says it is not intact. The case becomes the one that owns that state.
- The owning case closes as fixed (close type normal or overdue, self-handled included): the component is intact
  (完好) again. Closed as special (特殊结案, e.g. it waits for funds) it keeps its state, and no case owns it.
- The owning case is cancelled: verification found nothing, so the state before the report comes back; merged
  into another case (合并), that case owns the state.
- Any other event, or one about a case that does not own the state (a later report took it over, or a person set
  the state by hand), changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from civicgrid.domain.components import ComponentState

NOT_INTACT = (ComponentState.DAMAGED.value, ComponentState.MISSING.value, ComponentState.OCCUPIED.value)
ZH = {"intact": "完好", "damaged": "破损", "missing": "丢失", "occupied": "占用"}
FIXED = ("normal", "overdue")


@dataclass(frozen=True, slots=True)
class CaseEvent:
    """What the rule needs of a `cg.case-events` record."""

    case_id: str
    seq: int
    action: str
    from_state: str | None
    to_state: str
    actor: str
    data: Mapping[str, Any]

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> CaseEvent:
        """KeyError, TypeError or ValueError for a record without the fields (the consumer logs and passes over)."""
        return cls(str(record["case_id"]), int(record["seq"]), str(record["action"]), record.get("from_state"),
                   str(record["to_state"]), str(record.get("actor") or "case"), record.get("data") or {})


@dataclass(frozen=True, slots=True)
class StateChange:
    state: str
    state_case_id: str | None
    reason: str


def reported_state(evidence: Iterable[Mapping[str, Any]]) -> str:
    """The state a case's report says its component is in (damaged when it does not say)."""
    for data in evidence:
        said = data.get("component_state")
        if said in NOT_INTACT:
            return str(said)
        attributes = data.get("attributes")
        if isinstance(attributes, Mapping):
            for value in attributes.values():
                values = value if isinstance(value, list) else [value]
                for v in values:
                    if v in NOT_INTACT:
                        return str(v)
    return ComponentState.DAMAGED.value


def decide(event: CaseEvent, case_no: str | None, state: str, state_case_id: str | None, *,
           reported: str, before_report: str | None) -> StateChange | None:
    """The component's new state after `event` of its case, or None. `state`, `state_case_id`: the component now;
    `reported`: what the case's report says (`reported_state`); `before_report`: its state before this case's
    report took it (from its history), for a cancellation."""
    name = case_no or event.case_id
    if event.from_state is None:
        if state == reported and state_case_id == event.case_id:
            return None
        return StateChange(reported, event.case_id, f"案件 {name} 上报：{ZH.get(reported, reported)}")
    if state_case_id != event.case_id or event.to_state not in ("closed", "cancelled"):
        return None
    return _ended(event, name, state, before_report)


def _ended(event: CaseEvent, name: str, state: str, before_report: str | None) -> StateChange:
    """The owning case closed or was cancelled."""
    if event.to_state == "closed":
        if event.data.get("close_type") in FIXED or event.data.get("self_handled"):
            return StateChange(ComponentState.INTACT.value, None, f"案件 {name} 结案，已修复：完好")
        return StateChange(state, None, f"案件 {name} 特殊结案：状态不变")
    into = event.data.get("merged_into")
    if into:
        return StateChange(state, str(into), f"案件 {name} 合并入 {into}")
    back = before_report or ComponentState.INTACT.value
    return StateChange(back, None, f"案件 {name} 作废：恢复为{ZH.get(back, back)}")
