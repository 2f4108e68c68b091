"""Feedback to citizens as the operators see it: every notification owed to a caller, sent or failed, with its
attempts and last error (docs/notify.md), so a receiver that is down is noticed; and an admin's resend of a failed
one once the receiver is back, recorded with who, when and why (civicgrid/notify/outbox.py `resend`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require
from api.deps import Db
from api.errors import ApiError, not_found
from api.users import User
from civicgrid.domain.case_state import Role
from civicgrid.notify.outbox import RESENT, resend

router = APIRouter(prefix="/notifications", tags=["cases"])


class ResendPublic(BaseModel):
    at: datetime
    actor: str
    reason: str
    attempts: int = Field(description="the failed attempts before this resend")
    last_error: str | None = Field(description="the error it had failed with")


class NotificationPublic(BaseModel):
    id: int
    case_id: str
    case_no: str
    channel: str
    status: str
    attempts: int = Field(description="attempts since it was owed, or since its latest resend")
    last_error: str | None
    next_attempt_at: datetime
    sent_at: datetime | None
    caller_name: str | None
    caller_phone: str | None
    resends: list[ResendPublic] = Field(default_factory=list, description="each time an admin sent it again, oldest "
                                                                          "first")


class ResendIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "12345 平台接口已恢复"}]})

    reason: Annotated[str, Field(min_length=1, max_length=500, description="why, kept with the resend")]


_SELECT = (
    "SELECT n.id, n.case_id::text, c.case_no, n.channel, n.status, n.attempts, n.last_error, n.next_attempt_at, "
    "n.sent_at, k.name, k.phone, coalesce((SELECT json_agg(json_build_object('at', r.at, 'actor', r.actor, "
    "'reason', r.reason, 'attempts', r.attempts, 'last_error', r.last_error) ORDER BY r.id) "
    "FROM notification_resends r WHERE r.notification_id = n.id), '[]') "
    "FROM notifications n JOIN cases c ON c.id = n.case_id JOIN case_callers k ON k.id = n.caller_id ")


def _public(r: tuple[Any, ...]) -> NotificationPublic:
    return NotificationPublic(id=r[0], case_id=r[1], case_no=r[2], channel=r[3], status=r[4], attempts=r[5],
                              last_error=r[6], next_attempt_at=r[7], sent_at=r[8], caller_name=r[9],
                              caller_phone=r[10], resends=r[11])


def _one(db: psycopg.Connection, notification_id: int) -> NotificationPublic | None:
    row = db.execute(_SELECT + "WHERE n.id = %s", (notification_id,)).fetchone()
    return None if row is None else _public(row)


@router.get("", summary="Notifications to callers (newest first): pending, sent, failed with their last error")
def list_notifications(db: Db, user: Annotated[User, Depends(require(Role.OPERATOR, Role.SHIFT_LEADER))],
                       status: Literal["pending", "sent", "failed"] | None = None,
                       case_id: uuid.UUID | None = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[NotificationPublic]:
    rows = db.execute(
        _SELECT + "WHERE (%(status)s::text IS NULL OR n.status = %(status)s) "
        "AND (%(case)s::uuid IS NULL OR n.case_id = %(case)s) ORDER BY n.id DESC LIMIT %(limit)s",
        {"status": status, "case": case_id, "limit": limit}).fetchall()
    return [_public(r) for r in rows]


@router.post("/{notification_id}/resend", summary="Send a failed notification again (admin), recorded with who, "
                                                  "when and why; it is delivered with its retries from zero",
             responses={404: {"description": "no such notification"},
                        409: {"description": "it is not failed (pending or sent): nothing to send again"}})
def resend_notification(notification_id: int, body: ResendIn, db: Db,
                        user: Annotated[User, Depends(require(Role.ADMIN))]) -> NotificationPublic:
    # The wall clock, as the notifier's delivery rounds read it (a simulated platform clock would make it due later).
    outcome = resend(db, [notification_id], user.username, body.reason, datetime.now(UTC))[notification_id]
    if outcome == "unknown":
        raise not_found("notification", notification_id)
    if outcome != RESENT:
        raise ApiError(409, "not-failed", f"notification {notification_id} is {outcome}, not failed: only a failed "
                                          "one is sent again (a pending one is still being retried)")
    found = _one(db, notification_id)
    if found is None:  # deleted with its case between the two statements
        raise not_found("notification", notification_id)
    return found
