"""/alarms/{alarm_id}/ack: an operator acknowledges a live alarm once, for every console.

Acknowledging only in the browser left every other operator's screen pulsing and the
shift with no record of who saw what. The ack is a row (the first one stands; acking again
answers with it) and reaches the other consoles through the live feed as `alarm_ack`
(migration 0008's trigger), so an alarm stops pulsing everywhere within one feed poll.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require
from api.deps import Db
from api.errors import not_found
from api.users import User
from civicgrid.domain.case_state import Role

router = APIRouter(prefix="/alarms", tags=["alarms"])
ACKERS = (Role.OPERATOR, Role.DISPATCHER, Role.SHIFT_LEADER, Role.LEADER)


class AckIn(BaseModel):
    note: Annotated[str, Field(max_length=500)] | None = None


class AckPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "alarm_id": "mh-000123:cover_tilted:1795496881952", "acked_by": "op-wang",
        "acked_at": "2026-11-24T06:02:48Z", "note": None, "first": True}]})

    alarm_id: str
    acked_by: str
    acked_at: datetime
    note: str | None
    first: bool = Field(description="false when someone had already acknowledged it (their ack is returned)")


@router.post("/{alarm_id}/ack", summary="Acknowledge a raised alarm (idempotent; the first ack stands)",
             responses={404: {"description": "no raised alarm with this id"}})
def acknowledge(db: Db, alarm_id: Annotated[str, PathParam(max_length=200)],
                user: Annotated[User, Depends(require(*ACKERS))],
                body: Annotated[AckIn | None, Body()] = None) -> AckPublic:
    raised = db.execute("SELECT 1 FROM alarms WHERE alarm_id = %s AND action = 'raise' LIMIT 1",
                        (alarm_id,)).fetchone()
    if raised is None:
        raise not_found("alarm", alarm_id)
    inserted = db.execute("INSERT INTO alarm_acks (alarm_id, acked_by, note) VALUES (%s, %s, %s) "
                          "ON CONFLICT (alarm_id) DO NOTHING RETURNING alarm_id",
                          (alarm_id, user.id, body.note if body else None)).fetchone()
    acked_by, acked_at, note = db.execute(
        "SELECT u.username, a.acked_at, a.note FROM alarm_acks a JOIN users u ON u.id = a.acked_by "
        "WHERE a.alarm_id = %s", (alarm_id,)).fetchone()
    return AckPublic(alarm_id=alarm_id, acked_by=acked_by, acked_at=acked_at, note=note, first=inserted is not None)
