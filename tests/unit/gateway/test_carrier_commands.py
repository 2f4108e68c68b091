"""The carriers' command APIs, pure parts: the signatures, what each answer means, which transport a device's
commands take (the end-to-end run through a stand-in API is tests/e2e/test_carriers.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse

from civicgrid.store.carrier_devices import CarrierAddress
from gateway.carriers.platform_api import (
    ctwing_outcome,
    ctwing_response,
    ctwing_signature,
    onenet_outcome,
    onenet_token,
)
from gateway.commands import over_mqtt
from gateway.registry import DeviceInfo


def test_ctwing_signs_application_timestamp_sorted_parameters_and_body() -> None:
    body = b'{"deviceId":"d1"}'
    text = b"application:AK\ntimestamp:1515752817580\nMasterKey:MK\nproductId:7\n" + body + b"\n"
    expected = base64.b64encode(hmac.new(b"secret", text, hashlib.sha1).digest()).decode()
    assert ctwing_signature("secret", "AK", "1515752817580", {"productId": "7", "MasterKey": "MK"}, body) == expected
    no_body = base64.b64encode(hmac.new(b"secret", b"application:AK\ntimestamp:1\n", hashlib.sha1).digest())
    assert ctwing_signature("secret", "AK", "1", {}, b"") == no_body.decode()


def test_onenet_token_signs_expiry_method_resource_version_with_the_decoded_key() -> None:
    key = base64.b64encode(b"k" * 32).decode()
    token = dict(urllib.parse.parse_qsl(onenet_token(key, "products/123", 1537255523)))
    text = b"1537255523\nsha1\nproducts/123\n2018-10-31"
    assert token == {"version": "2018-10-31", "res": "products/123", "et": "1537255523", "method": "sha1",
                     "sign": base64.b64encode(hmac.new(b"k" * 32, text, hashlib.sha1).digest()).decode()}


def test_what_the_platforms_answers_mean() -> None:
    ok = b'{"code": 0, "msg": "ok", "result": {"commandId": "674", "commandStatus": "\\u6307"}}'
    assert (ctwing_outcome(200, ok).status, ctwing_outcome(200, ok).task_id) == ("sent", "674")
    refused = ctwing_outcome(200, b'{"code": 8002, "msg": "device does not exist", "result": null}')
    assert (refused.status, refused.detail) == ("failed", "ctwing refused: HTTP 200, code 8002: device does not exist")
    assert ctwing_outcome(502, b"<html>bad gateway</html>").status == "failed"
    assert ctwing_outcome(200, b'{"code": 0, "result": {}}').status == "failed"  # no commandId: nothing to follow
    assert onenet_outcome(200, b'{"errno": 0, "error": "succ"}').status == "acked"
    assert onenet_outcome(200, b'{"errno": 2001, "error": "device not online"}').detail == (
        "onenet refused: HTTP 200, errno 2001: device not online")
    assert ctwing_response({"resultCode": "SUCCESSFUL"}) == ("acked", "ctwing SUCCESSFUL")
    assert ctwing_response({"resultCode": "TIMEOUT"})[0] == "timed_out"  # type: ignore[index]
    assert ctwing_response({"resultCode": "FAILED", "resultDetail": {"x": 1}}) == ("failed", 'ctwing FAILED: {"x":1}')
    assert ctwing_response({"resultCode": "DELIVERED"}) is None  # progress, not an answer
    assert ctwing_response({}) is None


def test_a_device_bound_to_a_platform_is_not_sent_commands_over_mqtt() -> None:
    row = ("c1", "manhole-sensor", "manhole-sensor", True, None, None, None)
    assert over_mqtt(DeviceInfo.from_row((*row, None, None, None)))
    bound = DeviceInfo.from_row((*row, "onenet", "523", "869975031234567"))
    assert bound.carrier == CarrierAddress("onenet", "523", "869975031234567")
    assert not over_mqtt(bound)
    assert over_mqtt(None)  # unknown: the MQTT gateway's, which times it out as before
