"""Feedback to citizens as the operators see it: every notification owed to a caller, sent or failed, with its
attempts and last error (docs/notify.md), so a receiver that is down is noticed and the message sent again."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from api.auth import require
from api.deps import Db
from api.users import User
from civicgrid.domain.case_state import Role

router = APIRouter(prefix="/notifications", tags=["cases"])


class NotificationPublic(BaseModel):
    id: int
    case_id: str
    case_no: str
    channel: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    sent_at: datetime | None
    caller_name: str | None
    caller_phone: str | None


@router.get("", summary="Notifications to callers (newest first): pending, sent, failed with their last error")
def list_notifications(db: Db, user: Annotated[User, Depends(require(Role.OPERATOR, Role.SHIFT_LEADER))],
                       status: Literal["pending", "sent", "failed"] | None = None,
                       case_id: uuid.UUID | None = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[NotificationPublic]:
    rows = db.execute(
        "SELECT n.id, n.case_id::text, c.case_no, n.channel, n.status, n.attempts, n.last_error, n.next_attempt_at, "
        "n.sent_at, k.name, k.phone FROM notifications n JOIN cases c ON c.id = n.case_id "
        "JOIN case_callers k ON k.id = n.caller_id WHERE (%(status)s::text IS NULL OR n.status = %(status)s) "
        "AND (%(case)s::uuid IS NULL OR n.case_id = %(case)s) ORDER BY n.id DESC LIMIT %(limit)s",
        {"status": status, "case": case_id, "limit": limit}).fetchall()
    return [NotificationPublic(id=r[0], case_id=r[1], case_no=r[2], channel=r[3], status=r[4], attempts=r[5],
                               last_error=r[6], next_attempt_at=r[7], sent_at=r[8], caller_name=r[9],
                               caller_phone=r[10]) for r in rows]
