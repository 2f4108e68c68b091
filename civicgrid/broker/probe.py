"""Log in to an MQTT broker and report the CONNACK: the stack's readiness check."""

from __future__ import annotations

import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode


def mqtt_login(host: str, port: int, username: str | None, password: str | None,
               timeout_s: float = 3.0) -> str:
    """Return ``"ok"`` on a successful CONNACK, otherwise the broker's refusal or the socket error."""
    answered = threading.Event()
    result: dict[str, str] = {}

    def on_connect(client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags, reason_code: ReasonCode,
                   properties: Properties | None) -> None:
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
