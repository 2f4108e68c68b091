"""Which device records are city problems, and what each one is: category, urgency, where, evidence.

An alarm raise (not a device-health alarm), a handheld's report, or a camera's
region event is a problem; everything else is not.  Pure mapping from a Kafka
record to a `Problem`; the case builder decides open-or-merge.
"""

from __future__ import annotations

from typing import Any

from civicgrid.bus import topics
from civicgrid.bus.alarm_record import AlarmRecord
from civicgrid.bus.device_records import DeviceRecord
from civicgrid.cases.problem import Problem
from civicgrid.domain.case_state import Role, Source


def problem_of(topic: str, record: dict[str, Any]) -> Problem | None:
    if topic == topics.ALARMS:
        return _from_alarm(record)
    if topic == topics.REPORTS:
        return _from_report(record)
    if topic == topics.EVENTS and record.get("kind") == "camera":
        return _from_camera(record)
    return None


def _from_alarm(record: dict[str, Any]) -> Problem | None:
    alarm = AlarmRecord.decode(record)
    if alarm.action != "raise" or alarm.device_alarm:
        return None  # clears never reopen; device health is for operators, not a city case
    if alarm.rule_kind == "patrol":
        return None  # an inspector's patrol (outside the grid, stationary …) is about the work, not the city
    if alarm.category is None:
        raise ValueError(f"alarm {alarm.alarm_id} raises a problem without a category")
    return Problem(
        source=Source.SENSOR, role=Role.OPERATOR, actor=f"device:{alarm.device_id}",
        source_record_id=f"alarm:{alarm.alarm_id}", category=alarm.category, disposal_class=alarm.urgency,
        at=alarm.ts, device_id=alarm.device_id,
        component_code=alarm.component_code if alarm.linked_component else None,
        device_cell=alarm.grid_cell_code, lon=None, lat=None,
        description=f"{alarm.kind} {alarm.device_id}: {alarm.rule} ({alarm.value})",
        evidence_kind="alarm", evidence=record, location_component=alarm.component_code,
    )


def _from_report(record: dict[str, Any]) -> Problem | None:
    report = DeviceRecord.decode(record)
    data = report.data
    if data["kind"] not in ("report", "self_handled"):
        return None  # verification and check answers belong to the API's tasks
    return Problem(
        source=Source.INSPECTOR, role=Role.INSPECTOR,
        actor=f"user:{report.inspector_user_id}" if report.inspector_user_id else f"device:{report.device_id}",
        source_record_id=f"report:{report.device_id}:{data['report_id']}", category=data["category_code"],
        disposal_class=None, at=report.ts, device_id=report.device_id,
        component_code=data.get("component_code"), device_cell=report.grid_cell_code, lon=data["lon"],
        lat=data["lat"], description=data["description"], evidence_kind="report", evidence=data,
        self_handled_note=data["description"] if data["kind"] == "self_handled" else None,
    )


def _from_camera(record: dict[str, Any]) -> Problem | None:
    event = DeviceRecord.decode(record)
    data = event.data
    if data.get("type") != "roi_occupied" or not data.get("category_code"):
        return None
    return Problem(
        source=Source.CAMERA, role=Role.OPERATOR, actor=f"device:{event.device_id}",
        source_record_id=f"event:{event.device_id}:{event.seq}", category=data["category_code"],
        disposal_class=None, at=event.ts, device_id=event.device_id,
        component_code=None, device_cell=event.grid_cell_code, lon=None, lat=None,
        description=f"camera {event.device_id} region {data.get('roi_id')}: {data['category_code']}",
        # The snapshot is media (streams/cameras.py stores it under this id): shown like a photo.
        evidence_kind="camera_event", evidence={**data, "media_id": data["snapshot_id"], "content_type": "image/jpeg"}
        if data.get("snapshot_id") else data,
    )
