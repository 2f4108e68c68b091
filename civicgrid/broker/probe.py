"""Log in to an MQTT broker and report the CONNACK: the stack's readiness check."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def mqtt_login(host: str, port: int, username: str | None, password: str | None,
               timeout_s: float = 3.0) -> str:
    """Return ``"ok"`` on a successful CONNACK, otherwise the broker's refusal or the socket error."""
    answered = threading.Event()
    result: dict[str, str] = {}

    def on_connect(client, userdata, flags, reason_code, properties):
        result["answer"] = "ok" if not reason_code.is_failure else str(reason_code)
        answered.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if username is not None:
        client.username_pw_set(username, password)
    client.on_connect = on_connect
    try:
        client.connect(host, port, keepalive=10)
    except OSError as exc:
        return f"cannot connect: {exc}"
    client.loop_start()
    try:
        if not answered.wait(timeout_s):
            return "no CONNACK"
        return result["answer"]
    finally:
        client.disconnect()
        client.loop_stop()
