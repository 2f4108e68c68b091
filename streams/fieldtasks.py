"""An inspector's answer to a field task (核实 / 核查), read from a cg.reports record.

The handheld answers a `verify` / `check` command (civicgrid/cases/field_tasks.py) with a report of
kind `verification` or `check` whose `task_id` is the case id and `result` is confirmed / not_found
or fixed / not_fixed. Here the record becomes a `TaskAnswer`; the case service applies it.
"""

from __future__ import annotations

import uuid
from typing import Any

from civicgrid.bus.device_records import DeviceRecord
from civicgrid.cases.field_tasks import ANSWERS, TASK_KINDS, TaskAnswer


class UnreadableAnswer(ValueError):
    """A task answer that cannot be applied (no case id, unknown result): a dead letter, with the reason."""


def answer_of(record: dict[str, Any]) -> TaskAnswer | None:
    """The task answer in a cg.reports record, None for an ordinary report."""
    report = DeviceRecord.decode(record)
    data = report.data
    if data.get("kind") not in TASK_KINDS:
        return None
    task_id, result = data.get("task_id"), data.get("result")
    try:
        case_id = str(uuid.UUID(str(task_id)))
    except ValueError:
        raise UnreadableAnswer(f"{data['kind']} report without a case id as task_id ({task_id!r})") from None
    if (data["kind"], result) not in ANSWERS:
        raise UnreadableAnswer(f"{data['kind']} report with result {result!r}; expected one of "
                               f"{[r for k, r in ANSWERS if k == data['kind']]}")
    return TaskAnswer(case_id, data["kind"], result, f"report:{report.device_id}:{data['report_id']}", report.ts,
                      report.device_id, report.inspector_user_id, data)
