"""Telling a device that the gateway refused its message: a notice on its own downlink topic ``cg/<id>/refused``.

The broker acknowledges (PUBACK) whatever a device may publish before the gateway has read it, so without a
word back a device takes a refused message for a delivered one: the inspector's phone would show a report as
sent that never became a case. When the gateway dead-letters a message of a registered, enabled device, it
publishes, after the dead letter is in Kafka, ``{seq, report_id, command_id, channel, reason, detail, ts}``
(QoS 1, not retained) on that device's ``cg/<id>/refused``, which only that device may read. ``seq`` (and
``report_id`` or ``command_id`` when the message had one) say which message it was; ``null`` when the payload was
not a JSON object carrying it. Any device may subscribe; one that does not loses nothing (docs/gateway.md).

No notice for an unknown or disabled device (nobody to tell, or nobody to trust), nor for a payload over the size
limit beyond its reason (it is not parsed).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from gateway.topics import REFUSED

_IDS = ("report_id", "command_id")
_ID_MAX = 64


def refused_topic(device_id: str) -> str:
    return f"cg/{device_id}/{REFUSED}"


def _which(payload: bytes | None) -> dict[str, Any]:
    """The message's own identifiers, when it is a JSON object that carries them (never its other content)."""
    found: dict[str, Any] = {"seq": None, **dict.fromkeys(_IDS)}
    if payload is None:
        return found
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return found
    if not isinstance(obj, dict):
        return found
    seq = obj.get("seq")
    if isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq < 2**63:
        found["seq"] = seq
    for key in _IDS:
        value = obj.get(key)
        if isinstance(value, str) and 0 < len(value) <= _ID_MAX:
            found[key] = value
    return found


def refusal_notice(payload: bytes | None, channel: str | None, reason: str, detail: str,
                   at: datetime) -> bytes:
    """The notice's bytes. `payload` None: not parsed (too large); `channel` None: the topic named none."""
    return orjson.dumps({**_which(payload), "channel": channel, "reason": reason, "detail": detail[:500],
                         "ts": at.astimezone(UTC)}, option=orjson.OPT_UTC_Z)
