"""The platforms' command APIs: a downlink command as one signed HTTP request, and what its answer means.

**CTWing/AEP** 指令下发 (``POST {ctwing_api_url}/aep_device_command/command``, API version 20190712225145):
headers ``application`` (the App Key), ``timestamp`` (epoch ms), ``version``, ``MasterKey`` (the product's) and
``signature`` = Base64(HMAC-SHA1(App Secret, "application:{key}\\ntimestamp:{ms}\\n" + each parameter, the
MasterKey among them, as "name:value\\n" in name order + the body + "\\n")), the scheme of the platform's own SDKs.
The body names the product and device, ``ttl`` (how long the platform keeps the command for a sleeping device:
the command's remaining time) and the content ``{"serviceIdentifier": name, "params": args}`` (a thing-model
service: the command's name is the service's identifier). An answer of ``code`` 0 carries the platform's
``commandId``: the command is *sent*, and the device's answer arrives later as a ``commandResponse`` push whose
``taskId`` is that id.

**OneNET** 即时命令 (``POST {onenet_api_url}/nbiot/execute?imei=…&obj_id=…&obj_inst_id=…&res_id=…&timeout=…``):
``Authorization`` is the security-auth token (version 2018-10-31, ``res=products/{id}``, an expiry ``et``,
``method=sha1``, ``sign`` = Base64(HMAC-SHA1(Base64-decoded access key, "{et}\\n{method}\\n{res}\\n{version}")));
the access key itself never travels. The body ``{"args": …}`` is the command as MQTT devices receive it (JSON
text, at most 2 KB). The platform holds the request until the device executed the resource (``timeout``, 5-40
s): ``errno`` 0 is the device's answer, so the command is *acked* at once; another errno is the refusal (2001:
device not online).

Pure functions and one blocking client per platform; the loop that calls them is gateway/carriers/downlink.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import orjson

from civicgrid.bus.command_records import CommandRecord
from civicgrid.settings import CarrierSettings
from civicgrid.store.carrier_devices import CarrierAddress
from gateway.commands import command_payload

CTWING_COMMAND_PATH = "/aep_device_command/command"
CTWING_COMMAND_VERSION = "20190712225145"
ONENET_EXECUTE_PATH = "/nbiot/execute"
ONENET_TOKEN_VERSION = "2018-10-31"
ONENET_MAX_ARGS = 2048


@dataclass(frozen=True, slots=True)
class Outcome:
    """A command's step after the platform's answer (sent | acked | failed | timed_out), with why."""

    status: str
    detail: str
    task_id: str | None = None  # the platform's id of the command, named again by its pushed response


def ctwing_signature(app_secret: str, app_key: str, timestamp_ms: str, params: dict[str, str], body: bytes) -> str:
    text = f"application:{app_key}\ntimestamp:{timestamp_ms}\n"
    text += "".join(f"{name}:{value}\n" for name, value in sorted(params.items()))
    signed = text.encode() + (body + b"\n" if body.strip() else b"")
    return base64.b64encode(hmac.new(app_secret.encode(), signed, hashlib.sha1).digest()).decode("ascii")


def onenet_token(access_key: str, res: str, expires_at: int, version: str = ONENET_TOKEN_VERSION) -> str:
    method = "sha1"
    key = base64.b64decode(access_key)
    text = f"{expires_at}\n{method}\n{res}\n{version}".encode()
    sign = base64.b64encode(hmac.new(key, text, hashlib.sha1).digest()).decode("ascii")
    return (f"version={version}&res={urllib.parse.quote(res, safe='')}&et={expires_at}&method={method}"
            f"&sign={urllib.parse.quote(sign, safe='')}")


def _json(content: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def ctwing_outcome(http_status: int, content: bytes) -> Outcome:
    """What CreateCommand's answer means for the command."""
    answer = _json(content)
    if answer is None:
        return Outcome("failed", f"ctwing refused: HTTP {http_status}, not JSON: {content[:120]!r}")
    code, message = answer.get("code"), str(answer.get("msg", ""))[:200]
    raw = answer.get("result")
    result: dict[str, Any] = raw if isinstance(raw, dict) else {}
    command_id = result.get("commandId")
    if http_status != 200 or code != 0 or command_id in (None, ""):
        return Outcome("failed", f"ctwing refused: HTTP {http_status}, code {code}: {message}")
    return Outcome("sent", f"ctwing command {command_id}: {result.get('commandStatus', '')}"[:200],
                   task_id=str(command_id))


# CTWing commandResponse result codes → our steps; SENT/DELIVERED/SAVED are the platform's progress: no step.
_CTWING_RESULTS = {"SUCCESSFUL": "acked", "FAILED": "failed", "TIMEOUT": "timed_out", "CANCELED": "failed",
                   "CANCELLED": "failed", "EXPIRED": "timed_out"}


def ctwing_response(result: dict[str, Any]) -> tuple[str, str] | None:
    """(status, detail) of a ``commandResponse`` push's ``result``, or None while the command is under way."""
    code = str(result.get("resultCode", "")).upper()
    status = _CTWING_RESULTS.get(code)
    if status is None:
        return None
    detail = result.get("resultDetail")
    text = f"ctwing {code}" + (f": {orjson.dumps(detail).decode()}" if detail not in (None, "", {}) else "")
    return status, text[:500]


def onenet_outcome(http_status: int, content: bytes) -> Outcome:
    answer = _json(content)
    if answer is None:
        return Outcome("failed", f"onenet refused: HTTP {http_status}, not JSON: {content[:120]!r}")
    errno, error = answer.get("errno"), str(answer.get("error", ""))[:200]
    if http_status == 200 and errno == 0:
        return Outcome("acked", "onenet: the device executed the command")
    return Outcome("failed", f"onenet refused: HTTP {http_status}, errno {errno}: {error}")


class CtwingCommands:
    def __init__(self, c: CarrierSettings, client: httpx.Client) -> None:
        assert c.ctwing_app_key and c.ctwing_app_secret and c.ctwing_master_key and c.ctwing_product_id
        self.url = c.ctwing_api_url.rstrip("/") + CTWING_COMMAND_PATH
        self.app_key, self.product_id, self.timeout_s = c.ctwing_app_key, c.ctwing_product_id, c.api_timeout_s
        self._secret = c.ctwing_app_secret.get_secret_value()
        self._master_key = c.ctwing_master_key.get_secret_value()
        self.client = client

    def send(self, cmd: CommandRecord, address: CarrierAddress, remaining_s: float) -> Outcome:
        body = orjson.dumps({"content": {"serviceIdentifier": cmd.name, "params": cmd.args},
                             "deviceId": address.carrier_device_id, "operator": (cmd.issued_by or "civicgrid")[:64],
                             "productId": self.product_id, "ttl": max(0, min(864000, int(remaining_s))),
                             "level": 1})
        stamp = str(int(time.time() * 1000))
        headers = {"application": self.app_key, "timestamp": stamp, "version": CTWING_COMMAND_VERSION,
                   "MasterKey": self._master_key, "Content-Type": "application/json; charset=UTF-8",
                   "signature": ctwing_signature(self._secret, self.app_key, stamp,
                                                 {"MasterKey": self._master_key}, body)}
        try:
            response = self.client.post(self.url, content=body, headers=headers, timeout=self.timeout_s)
        except httpx.TimeoutException:
            return Outcome("timed_out", f"ctwing API did not answer within {self.timeout_s:g} s")
        except httpx.HTTPError as exc:
            return Outcome("failed", f"ctwing API unreachable: {type(exc).__name__}: {exc}"[:300])
        return ctwing_outcome(response.status_code, response.content)


class OnenetCommands:
    def __init__(self, c: CarrierSettings, client: httpx.Client) -> None:
        assert c.onenet_product_id and c.onenet_access_key and c.onenet_command_resource
        self.url = c.onenet_api_url.rstrip("/") + ONENET_EXECUTE_PATH
        self.res = f"products/{c.onenet_product_id}"
        self.resource = c.onenet_command_resource.split("/")
        self.timeout_s = c.api_timeout_s
        self._key = c.onenet_access_key.get_secret_value()
        self.client = client

    def send(self, cmd: CommandRecord, address: CarrierAddress, remaining_s: float) -> Outcome:
        if address.imei is None:
            return Outcome("failed", "onenet needs the device's IMEI: devices bind-carrier … --imei")
        args = orjson.dumps(command_payload(cmd.command_id, cmd.name, cmd.args, cmd.issued_at),
                            option=orjson.OPT_UTC_Z).decode()
        if len(args.encode()) > ONENET_MAX_ARGS:
            return Outcome("failed", f"command over OneNET's {ONENET_MAX_ARGS}-byte args limit")
        wait_s = max(5, min(40, int(remaining_s)))  # the platform's own bound on waiting for the device
        obj, inst, res = self.resource
        params = {"imei": address.imei, "obj_id": obj, "obj_inst_id": inst, "res_id": res, "timeout": str(wait_s)}
        token = onenet_token(self._key, self.res, int(time.time()) + 300)
        limit = wait_s + self.timeout_s
        try:
            response = self.client.post(self.url, params=params, content=orjson.dumps({"args": args}),
                                        headers={"Authorization": token, "Content-Type": "application/json"},
                                        timeout=limit)
        except httpx.TimeoutException:
            return Outcome("timed_out", f"onenet API did not answer within {limit:g} s")
        except httpx.HTTPError as exc:
            return Outcome("failed", f"onenet API unreachable: {type(exc).__name__}: {exc}"[:300])
        return onenet_outcome(response.status_code, response.content)


def remaining_s(cmd: CommandRecord, timeout_s: float, now: datetime) -> float:
    return timeout_s - (now - cmd.issued_at).total_seconds()
