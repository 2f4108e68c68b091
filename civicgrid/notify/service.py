"""The notifier service (``civicgrid notifier``): reads case events from Kafka, owes a notification to each caller
of a case that closed, and delivers them with retries.

Why a Kafka consumer of its own (docs/notify.md): services meet only through Kafka and the database
(docs/architecture.md), the close is already published on ``cg.case-events`` by the outbox relay, and a slow or
dead receiver must hold up neither the API's requests nor the stream workers. Its consumer group commits an event's
offset only after the notifications it owes are committed in the database, so a restart never loses a close; the
unique key of the notifications table makes a re-read event owe nothing twice. Delivery runs between polls.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime

from confluent_kafka import Message

from civicgrid.bus.case_event_follower import CaseEventFollower, readable
from civicgrid.notify.notifier import Notifier
from civicgrid.notify.outbox import Retry, deliver_due, owe
from civicgrid.notify.webhook import WebhookNotifier
from civicgrid.settings import NotifySettings, Settings

log = logging.getLogger(__name__)


def notifiers_from(settings: NotifySettings) -> dict[str, Notifier]:
    """The configured channels; the webhook needs its URL and its secret (no default exists)."""
    out: dict[str, Notifier] = {}
    if settings.webhook_url:
        if settings.webhook_secret is None:
            raise ValueError("notify.webhook_url is set but notify.webhook_secret is not: the receiver could not "
                             "tell our messages from anyone's (set CIVICGRID_NOTIFY__WEBHOOK_SECRET)")
        out["webhook"] = WebhookNotifier(settings.webhook_url, settings.webhook_secret.get_secret_value(),
                                         settings.timeout_s)
    return out


def closed_events(messages: list[Message]) -> list[tuple[str, int]]:
    """(case id, event seq) of the closes among the records; unreadable records are logged and passed over."""
    return readable(messages, lambda record: (str(record["case_id"]), int(record["seq"]))
                    if record.get("to_state") == "closed" and record.get("from_state") != "closed" else None)


class NotifierService(CaseEventFollower):
    def __init__(self, settings: Settings, notifiers: Mapping[str, Notifier]) -> None:
        if not notifiers:
            raise ValueError("no notifier is configured: set notify.webhook_url and notify.webhook_secret "
                             "(docs/notify.md)")
        super().__init__(settings, settings.notify.group_id)
        self.notifiers = notifiers
        n = settings.notify
        self.retry = Retry(n.max_attempts, n.backoff_s)

    def step(self) -> None:
        """One poll of case events (owing what closes owe, then committing the offsets) and one delivery round."""
        messages = [m for m in self.consumer.consume(200, self.settings.notify.poll_s) if m.error() is None]
        conn = self._db()
        if messages:
            channels = tuple(self.notifiers)
            with conn.transaction():
                owed = sum(owe(conn, case_id, seq, channels) for case_id, seq in closed_events(messages))
            self.consumer.commit(asynchronous=False)
            if owed:
                log.info("%d notification(s) owed", owed)
        while True:
            sent, failed = deliver_due(conn, self.notifiers, datetime.now(UTC), self.retry)
            if sent or failed:
                log.info("notifications: %d sent, %d failed attempt(s)", sent, failed)
            if sent + failed == 0:
                break

    def close(self) -> None:
        super().close()
        for notifier in self.notifiers.values():
            close = getattr(notifier, "close", None)
            if close is not None:
                close()


def run(settings: Settings, stop: threading.Event) -> None:
    """The service until `stop`: built from the settings (refuses to start without a notifier)."""
    service = NotifierService(settings, notifiers_from(settings.notify))
    log.info("notifier: channels %s, consumer group %s", ", ".join(service.notifiers), settings.notify.group_id)
    try:
        service.run(stop)
    finally:
        service.close()
