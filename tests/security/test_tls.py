"""Item 14 (MQTT part): the stack's broker serves MQTT over TLS with its own CA; devices connect that way."""

from __future__ import annotations

import ssl
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from civicgrid.bus import topics
from civicgrid.settings import Settings
from civicgrid.stack import LocalStack
from gateway.service import Gateway
from tests.support.kafka import KafkaTail


def _tls_client(settings: Settings, device_id: str, secret: str, ca: str | None) -> tuple[mqtt.Client, list]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(device_id, secret)
    client.tls_set(ca_certs=ca)
    answers: list = []
    done = threading.Event()

    def connected(c, userdata, flags, reason_code, properties):
        answers.append(reason_code)
        done.set()

    client.on_connect = connected
    client.connect(settings.mqtt.host, settings.mqtt.tls_port)
    client.loop_start()
    done.wait(10)
    return client, answers


def test_a_device_publishes_over_tls_trusting_the_stack_ca(stack: LocalStack, gateway: Gateway, provision) -> None:
    settings = stack.settings
    device_id, secret = provision("bin-sensor")
    ca = str(settings.stack.var_dir.resolve() / "tls" / "ca.crt")
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.TELEMETRY])
    client, answers = _tls_client(settings, device_id, secret, ca)
    try:
        assert answers and not answers[0].is_failure, answers
        info = client.publish(f"cg/{device_id}/telemetry", b'{"seq": 1, "ts": "2026-11-24T01:00:00Z", "fill_pct": 7}',
                              qos=1)
        info.wait_for_publish(10)
        seen = tail.collect(lambda rs: any(v.get("device_id") == device_id for _, _, v in rs), timeout_s=20)
    finally:
        client.loop_stop()
        client.disconnect()
        tail.close()
    assert [v["data"]["fill_pct"] for _, _, v in seen if v.get("device_id") == device_id] == [7]


def test_a_client_that_does_not_trust_the_ca_is_refused_the_handshake(stack: LocalStack, provision) -> None:
    device_id, secret = provision("bin-sensor")
    with pytest.raises(ssl.SSLCertVerificationError):
        _tls_client(stack.settings, device_id, secret, ca=None)  # the system's CAs only


def test_the_api_serves_https_with_a_configured_certificate(stack: LocalStack, api_settings: Settings) -> None:
    """uvicorn's TLS from `api.tls_certfile`/`tls_keyfile` (here the stack's own certificate for 127.0.0.1)."""
    import time

    import httpx
    import uvicorn

    from api.service import server_config
    from tests.support.stack import free_ports

    tls_dir = stack.settings.stack.var_dir.resolve() / "tls"
    (port,) = free_ports(1)
    settings = api_settings.model_copy(update={"api": api_settings.api.model_copy(update={
        "port": port, "tls_certfile": tls_dir / "server.crt", "tls_keyfile": tls_dir / "server.key"})})
    server = uvicorn.Server(server_config(settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the API did not start"
            time.sleep(0.05)
        r = httpx.get(f"https://127.0.0.1:{port}/healthz", verify=str(tls_dir / "ca.crt"))
        assert r.status_code == 200 and r.json()["status"] == "ok"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"https://127.0.0.1:{port}/healthz")  # not trusted without the CA
    finally:
        server.should_exit = True
        thread.join(15)
