"""The platforms' push bodies, parsed once into `CarrierMessage`s (docs/carriers.md, "Message shapes").

CTWing/AEP subscription push: one JSON object per message, ``messageType`` ``dataReport`` (``payload.APPdata``:
the device's bytes in Base64; a thing-model product sends ``payload`` as JSON fields), ``deviceOnlineOfflineReport``
(``eventType`` 1 online, 0 offline) or ``commandResponse`` (``taskId``, ``result``); ``deviceId``, ``timestamp``
(epoch ms), ``upPacketSN`` (the device's packet counter, -1 when absent).
OneNET HTTP push (plain mode): ``{"msg": …, "msg_signature": …, "nonce": …}`` where ``msg`` is one message or a
list of them: ``type`` 1 a data point (``dev_id``, ``ds_id``, ``at`` epoch ms, ``value``: for an NB-IoT device's
opaque resource the bytes as hex), ``type`` 2 online/offline (``status`` 1/0). Other types are answered and counted.
Platforms add fields over time: unknown fields are ignored, missing or mistyped ones are `carrier_bad_body`.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from civicgrid.store.carrier_devices import Platform
from gateway.carriers.errors import CarrierError, CarrierReason

Kind = Literal["data", "online", "offline", "command_response", "other"]


@dataclass(frozen=True, slots=True)
class CarrierMessage:
    platform: Platform
    carrier_device_id: str
    kind: Kind
    at: datetime | None = None
    seq: int | None = None
    payload: bytes | None = None  # the device's own bytes, decoded by the profile's binary layout
    fields: dict[str, Any] = field(default_factory=dict)  # or the values as JSON
    detail: dict[str, Any] = field(default_factory=dict)


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CtwingPush(_Body):
    messageType: str
    deviceId: str
    timestamp: int | None = None
    upPacketSN: int | None = None
    payload: dict[str, Any] | None = None
    eventType: int | None = None
    taskId: int | str | None = None
    result: dict[str, Any] | None = None


class OnenetItem(_Body):
    type: int
    dev_id: int | str
    at: int | None = None
    ds_id: str | None = None
    value: Any = None
    status: int | None = None
    imei: str | None = None


def _ms(value: int | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        raise CarrierError(CarrierReason.BAD_BODY, f"timestamp {value!r} is not epoch milliseconds") from None


def _bad(exc: ValidationError) -> CarrierError:
    problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
    return CarrierError(CarrierReason.BAD_BODY, problems)


def parse_ctwing(body: bytes) -> CarrierMessage:
    try:
        push = CtwingPush.model_validate_json(body)
    except ValidationError as exc:
        raise _bad(exc) from None
    at = _ms(push.timestamp)
    match push.messageType:
        case "dataReport":
            payload = push.payload or {}
            seq = push.upPacketSN if push.upPacketSN is not None and push.upPacketSN >= 0 else None
            if "APPdata" in payload:
                raw = payload["APPdata"]
                try:
                    data = base64.b64decode(raw, validate=True) if isinstance(raw, str) else None
                except binascii.Error:
                    data = None
                if not data:
                    raise CarrierError(CarrierReason.BAD_PAYLOAD, "payload.APPdata: not Base64 bytes")
                return CarrierMessage("ctwing", push.deviceId, "data", at, seq, payload=data)
            return CarrierMessage("ctwing", push.deviceId, "data", at, seq, fields=payload)
        case "deviceOnlineOfflineReport":
            if push.eventType not in (0, 1):
                raise CarrierError(CarrierReason.BAD_BODY, f"eventType: {push.eventType!r} is not 0 or 1")
            return CarrierMessage("ctwing", push.deviceId, "online" if push.eventType == 1 else "offline", at)
        case "commandResponse":
            return CarrierMessage("ctwing", push.deviceId, "command_response", at,
                                  detail={"task_id": push.taskId, "result": push.result or {}})
    return CarrierMessage("ctwing", push.deviceId, "other", at, detail={"message_type": push.messageType[:64]})


def onenet_envelope(body: bytes) -> tuple[str, str, str, Any]:
    """(msg as signed, nonce, msg_signature, msg decoded) of a OneNET push, before anything else is trusted.

    The signature covers ``msg`` as the platform wrote it, so the text is cut from the body rather than
    serialised again (key order and spacing would differ); a ``msg`` sent as a JSON string is signed as its
    content."""
    try:
        text = body.decode("utf-8")
        members = _top_level_members(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CarrierError(CarrierReason.BAD_BODY, f"not a JSON object: {exc}") from None
    if "enc_msg" in members:
        raise CarrierError(CarrierReason.BAD_BODY, "encrypted push (enc_msg) is not supported: use plain mode")
    try:
        raw_msg, nonce, signature = members["msg"], members["nonce"], members["msg_signature"]
        nonce_v, signature_v, msg = json.loads(nonce), json.loads(signature), json.loads(raw_msg)
    except KeyError as exc:
        raise CarrierError(CarrierReason.BAD_BODY, f"missing {exc.args[0]}") from None
    if not isinstance(nonce_v, str) or not isinstance(signature_v, str):
        raise CarrierError(CarrierReason.BAD_BODY, "nonce and msg_signature must be strings")
    signed = msg if isinstance(msg, str) else raw_msg
    if isinstance(msg, str):
        try:
            msg = json.loads(msg)
        except ValueError:
            raise CarrierError(CarrierReason.BAD_BODY, "msg: a string that is not JSON") from None
    return signed, nonce_v, signature_v, msg


def parse_onenet(msg: Any) -> list[CarrierMessage]:
    items = msg if isinstance(msg, list) else [msg]
    if not items or len(items) > 1000:
        raise CarrierError(CarrierReason.BAD_BODY, "msg: one message or a list of 1-1000")
    out = []
    for raw in items:
        try:
            item = OnenetItem.model_validate(raw)
        except ValidationError as exc:
            raise _bad(exc) from None
        device, at = str(item.dev_id), _ms(item.at)
        if item.type == 1:
            out.append(_onenet_point(device, at, item))
        elif item.type == 2:
            if item.status not in (0, 1):
                raise CarrierError(CarrierReason.BAD_BODY, f"status: {item.status!r} is not 0 or 1")
            out.append(CarrierMessage("onenet", device, "online" if item.status == 1 else "offline", at))
        else:
            out.append(CarrierMessage("onenet", device, "other", at, detail={"type": item.type}))
    return out


def _onenet_point(device: str, at: datetime | None, item: OnenetItem) -> CarrierMessage:
    value = item.value
    if isinstance(value, str):  # an opaque resource: the device's bytes as hex
        try:
            data = bytes.fromhex(value)
        except ValueError:
            raise CarrierError(CarrierReason.BAD_PAYLOAD, f"value: not hex bytes: {value[:40]!r}") from None
        return CarrierMessage("onenet", device, "data", at, payload=data)
    if isinstance(value, dict):
        return CarrierMessage("onenet", device, "data", at, fields=value)
    if item.ds_id:  # a numeric data stream named after a profile field
        return CarrierMessage("onenet", device, "data", at, fields={item.ds_id: value})
    raise CarrierError(CarrierReason.BAD_BODY, "value: expected hex bytes, an object, or a number with ds_id")


def _top_level_members(text: str) -> dict[str, str]:
    """The raw text of each member of the JSON object `text` (raises ValueError if it is not one)."""
    decoder = json.JSONDecoder()
    ws = " \t\n\r"
    members: dict[str, str] = {}
    i = len(text) - len(text.lstrip(ws))
    if text[i:i + 1] != "{":
        raise ValueError("expected an object")
    i += 1
    while True:
        while text[i:i + 1] in tuple(ws):
            i += 1
        if text[i:i + 1] == "}" and not members:
            return members
        key, i = decoder.raw_decode(text, i)
        if not isinstance(key, str):
            raise ValueError("object key is not a string")
        while text[i:i + 1] in tuple(ws):
            i += 1
        if text[i:i + 1] != ":":
            raise ValueError("expected ':'")
        i += 1
        while text[i:i + 1] in tuple(ws):
            i += 1
        _, end = decoder.raw_decode(text, i)
        members[key] = text[i:end]
        i = end
        while text[i:i + 1] in tuple(ws):
            i += 1
        if text[i:i + 1] == "}":
            if text[i + 1:].strip(ws):
                raise ValueError("data after the object")
            return members
        if text[i:i + 1] != ",":
            raise ValueError("expected ',' or '}'")
        i += 1
