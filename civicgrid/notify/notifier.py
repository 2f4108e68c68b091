"""The notifier interface: one message to one caller, sent through one channel.

A channel is anything with a `channel` name and a `send` that either returns (delivered) or raises
`DeliveryFailed` (retried later, the reason recorded). The webhook (`webhook.py`) is the one shipped; an SMS
gateway or WeChat Work (企业微信) is a class of the same shape registered under its own channel name
(docs/notify.md, "Plug-ins"), and a caller's messages go through every registered channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class DeliveryFailed(Exception):
    """The channel did not deliver; `str(exc)` is kept as the notification's `last_error`."""


@dataclass(frozen=True, slots=True)
class Message:
    """What a caller is told: which case (its number is the Open311 `service_request_id`), that it closed, when,
    the public note if one was written, and who to tell how."""

    notification_id: int
    case_id: str
    case_no: str
    category_code: str
    status: str  # "closed"
    at: datetime
    public_note: str | None
    caller_channel: str  # how the caller reported: open311, hotline, ...
    caller_name: str | None
    phone: str | None
    email: str | None
    account_id: str | None
    client: str | None
    # The number the caller was given (their own request's): the case's own, or a repeat merged into it (合并).
    caller_case_no: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"notification_id": self.notification_id, "case_id": self.case_id,
                "service_request_id": self.case_no, "category_code": self.category_code, "status": self.status,
                "at": self.at.isoformat(), "public_note": self.public_note,
                "caller": {"channel": self.caller_channel, "name": self.caller_name, "phone": self.phone,
                           "email": self.email, "account_id": self.account_id, "client": self.client,
                           "service_request_id": self.caller_case_no or self.case_no}}


class Notifier(Protocol):
    """One channel of feedback."""

    @property
    def channel(self) -> str: ...

    def send(self, message: Message) -> None:
        """Deliver `message` or raise `DeliveryFailed`; called again for the same message after a failure."""
        ...
