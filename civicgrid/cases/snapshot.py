"""CaseState ⇄ JSON: the lifecycle's whole view of a case, kept in ``cases.snapshot``.

The lifecycle (civicgrid.domain) needs more than the query columns hold —
pending requests, approved extensions, where a suspension came from, the
verify/check flags — so the case row carries it whole and the columns beside
it are derived copies for filtering.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from civicgrid.domain.case_state import CaseState, CloseType, Pending, PendingKind, Source, State
from civicgrid.domain.time_limits import DisposalClass, Limit

_DATETIMES = ("reported_at", "state_since", "accepted_at", "suspended_at", "dispatched_at", "disposed_at",
              "disposal_deadline")


def case_to_json(case: CaseState) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(case):
        value = getattr(case, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif f.name == "extensions":
            value = [e.as_json() for e in value]
        elif isinstance(value, Pending):
            value = {"kind": value.kind.value, "data": {k: _plain(v) for k, v in value.data.items()}}
        elif hasattr(value, "value"):  # enums
            value = value.value
        out[f.name] = value
    return out


def case_from_json(data: dict[str, Any]) -> CaseState:
    values = dict(data)
    for name in _DATETIMES:
        if values.get(name) is not None:
            values[name] = datetime.fromisoformat(values[name])
    values["state"] = State(values["state"])
    values["source"] = Source(values["source"])
    for name, enum in (("suspended_from", State), ("disposal_class", DisposalClass), ("close_type", CloseType)):
        if values.get(name) is not None:
            values[name] = enum(values[name])
    values["extensions"] = tuple(Limit.of(e) for e in values.get("extensions", ()))
    if values.get("pending") is not None:
        data = {k: _typed(v) for k, v in values["pending"]["data"].items()}
        values["pending"] = Pending(PendingKind(values["pending"]["kind"]), data)
    return CaseState(**values)


# A pending postponement carries the requested extension as a Limit.
_LIMIT = "__limit__"


def _plain(value: Any) -> Any:
    if isinstance(value, Limit):
        return {_LIMIT: True, **value.as_json()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _typed(value: Any) -> Any:
    if isinstance(value, dict) and value.get(_LIMIT):
        return Limit.of(value)
    return value
