"""A small synchronous MQTT v5 test client over paho, that records what the broker answers."""

from __future__ import annotations

import queue
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode


class MqttTestClient:
    def __init__(self, host: str, port: int, username: str | None, password: str | None,
                 client_id: str = "") -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._connack: ReasonCode | None = None
        self._connected = threading.Event()
        self._acks: dict[int, ReasonCode] = {}
        self._subacks: dict[int, list[ReasonCode]] = {}
        self._cond = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, msg: self.messages.put(msg)
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self.host, self.port = host, port

    # -- callbacks ------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self._connack = reason_code
        self._connected.set()

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        with self._cond:
            self._acks[mid] = reason_code
            self._cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self._cond:
            self._subacks[mid] = list(reason_codes)
            self._cond.notify_all()

    # -- API ------------------------------------------------------------------
    def connect(self, timeout_s: float = 5.0) -> ReasonCode:
        """Connect and return the CONNACK reason code (success or the broker's refusal)."""
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(timeout_s):
            raise TimeoutError("no CONNACK")
        assert self._connack is not None
        return self._connack

    def publish(self, topic: str, payload: bytes, qos: int = 1, timeout_s: float = 5.0) -> ReasonCode:
        """Publish at QoS 1 and return the PUBACK reason code."""
        info = self.client.publish(topic, payload, qos=qos)
        return self._wait(self._acks, info.mid, timeout_s)

    def subscribe(self, topic: str, qos: int = 1, timeout_s: float = 5.0) -> list[ReasonCode]:
        _, mid = self.client.subscribe(topic, qos=qos)
        return self._wait(self._subacks, mid, timeout_s)

    def next_message(self, timeout_s: float = 5.0) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=timeout_s)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _wait(self, table: dict, mid: int, timeout_s: float):
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while mid not in table:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no acknowledgement for message id {mid}")
                self._cond.wait(remaining)
            return table.pop(mid)
