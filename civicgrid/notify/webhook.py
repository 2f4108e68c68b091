"""The webhook notifier: an HTTP POST of the message as JSON, signed, to the city's hotline system (12345 / 12319),
which tells the citizen by its own SMS or call-back.

The receiver checks ``X-Civicgrid-Signature: sha256=<hex>``, the HMAC-SHA256 with the shared secret over
``<X-Civicgrid-Timestamp>.<body>`` (Stripe's scheme: the timestamp in the signed text lets it refuse replays), and
answers any 2xx. Anything else — a refused connection, a timeout, a 4xx or 5xx — is a `DeliveryFailed` that the
outbox retries. `X-Civicgrid-Notification` carries the notification id, the same on every retry, so a receiver
can drop a repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx
import orjson

from civicgrid.notify.notifier import DeliveryFailed, Message

SIGNATURE = "X-Civicgrid-Signature"
TIMESTAMP = "X-Civicgrid-Timestamp"
NOTIFICATION = "X-Civicgrid-Notification"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp` (receivers compute the same)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


class WebhookNotifier:
    channel = "webhook"

    def __init__(self, url: str, secret: str, timeout_s: float = 10.0) -> None:
        if len(secret) < 24:
            raise ValueError("notify.webhook_secret must be at least 24 characters (there is no default)")
        self.url, self._secret = url, secret
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def send(self, message: Message) -> None:
        body = orjson.dumps(message.as_json())
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", TIMESTAMP: timestamp,
                   SIGNATURE: sign(self._secret, timestamp, body), NOTIFICATION: str(message.notification_id)}
        try:
            response = self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"HTTP {response.status_code}: {response.text[:200]}")

    def close(self) -> None:
        self._client.close()
