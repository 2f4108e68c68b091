"""The gateway's MQTT client: paho-mqtt's, reading the socket in blocks and taking every packet that has arrived
per wake-up, with the QoS 1 PUBLISHes (nearly all of them) parsed in place.

paho's own loop reads one packet per `select()` and reads each packet with a `recv()` per header byte and one for
the body: five system calls or so for a 200-byte PUBLISH, which made paho's loop 71 % of the gateway's time at
1,500 msg/s (docs/performance.md). Then, with block reads, paho's per-packet Python (its read state machine, an
MQTT 5 `Properties` object and an `MQTTMessage` per message, the callback locks) was still about 40 % of the
gateway's time at 3,000 msg/s. Overrides of paho 2.2's read path (pinned below 2.3 in pyproject.toml for that):

- `_sock_recv` serves paho's small reads from a 64 KiB block read once;
- `loop_read` goes on while packets have arrived, up to `READ_AT_MOST` (paho 2.2 stops after one packet when no
  QoS 2 flow is open), and the gateway polls Kafka and sends the PUBACKs in between;
- with `on_publish_received` set, `loop_read` first takes the complete QoS 1 PUBLISH packets at the front of the
  block itself (`_take_publishes`: fixed header, topic, packet id, the MQTT 5 properties skipped) and hands each
  to `on_publish_received(topic, payload, retain, mid)` (paho's `on_publish` is its own callback for what the
  client sent). Anything else (CONNACK, SUBACK, PINGRESP, a QoS 0 or 2 PUBLISH, a
  packet cut by the block's end) goes to paho's reader, which then reads the next block. The properties can be
  skipped because the gateway announces no Topic Alias Maximum, so the broker sends no topic aliases
  (MQTT 5.0 §3.1.2.11.8), and it reads no user properties.

And one addition: `acks()` queues the PUBACKs of a poll's Kafka deliveries as one write.

`loop` takes what is left in the block before it waits in `select()` (the socket may look idle meanwhile).
`tests/integration/gateway/` runs the gateway on this client; `tests/unit/gateway/test_mqtt_client.py` feeds it
packets split at every byte.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.client import PUBACK
from paho.mqtt.enums import MQTTErrorCode

BLOCK_BYTES = 64 * 1024
_PUBACK = struct.Struct("!BBH")
# Packets one wake-up takes at most. Reading until the socket is empty, the gateway once read for a second
# on end at 3,000 msg/s while the records it had produced waited for their PUBACKs.
READ_AT_MOST = 200

# on_publish_received(topic, payload, retain, mid) for a QoS 1 PUBLISH taken from the block.
OnPublish = Callable[[str, bytes, bool, int], None]


class GatewayClient(mqtt.Client):
    """paho's `Client` with block reads (module docstring); everything else is paho's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._block = b""
        self._at = 0
        self.on_publish_received: OnPublish | None = None

    def buffered(self) -> int:
        """Bytes read from the socket and not yet taken by paho."""
        return len(self._block) - self._at

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._at >= len(self._block):
            block = super()._sock_recv(BLOCK_BYTES)  # raises BlockingIOError when nothing arrived
            if not block:
                return block  # the connection closed
            self._block, self._at = block, 0
        out = self._block[self._at:self._at + bufsize]
        self._at += len(out)
        return out

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """The packets that have arrived, up to `READ_AT_MOST` (paho's takes one; `max_packets` is ignored, as paho
        ignores it): the caller then polls Kafka and sends the PUBACKs before reading on."""
        left = READ_AT_MOST
        while left > 0:
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            fast = self.on_publish_received is not None and self._in_packet["command"] == 0
            if fast and self._at < len(self._block):
                taken = self._take_publishes(left)
                if taken:
                    left -= taken
                    continue
            rc = self._packet_read()
            left -= 1
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                return MQTTErrorCode.MQTT_ERR_SUCCESS
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _take_publishes(self, at_most: int) -> int:
        """Hand the complete QoS 1 PUBLISH packets at the front of the block to `on_publish_received`, up to
        `at_most`; stop at the first other packet, or one the block does not hold whole, and leave it to paho."""
        block, at, end = self._block, self._at, len(self._block)
        v5 = self._protocol == mqtt.MQTTv5
        taken = 0
        while taken < at_most and at < end:
            first = block[at]
            if first & 0xF6 != 0x32:  # PUBLISH (type 3) at QoS 1, any DUP and RETAIN
                break
            body, length = _varint(block, at + 1, end)
            if body < 0 or length < 2 or body + length > end:
                break
            packet_end = body + length
            topic_end = body + 2 + (block[body] << 8 | block[body + 1])
            payload = topic_end + 2
            if v5:
                props, props_len = _varint(block, payload, packet_end)
                if props < 0:
                    break
                payload = props + props_len
            if payload > packet_end:
                break  # malformed: paho's reader reports it
            mid = block[topic_end] << 8 | block[topic_end + 1]
            self._at = at = packet_end  # taken before the callback, which may read on
            topic = block[body + 2:topic_end].decode("utf-8", "replace")
            self.on_publish_received(topic, block[payload:packet_end], bool(first & 1), mid)
            taken += 1
        if taken:
            self._last_msg_in = mqtt.time_func()  # as paho's reader does per packet (for its keepalive check)
        return taken

    def acks(self, mids: Sequence[int]) -> MQTTErrorCode:
        """PUBACKs for these QoS 1 messages, queued as one run of bytes: one socket send for a poll's worth of
        Kafka deliveries, where `ack()` makes a send (and a wake-up byte on paho's socket pair) each. The bytes
        are `ack()`'s own: a PUBACK of remaining length 2 means success in MQTT 3.1.1 and 5 alike."""
        if not mids:
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return self._packet_queue(PUBACK, b"".join(_PUBACK.pack(PUBACK, 2, mid) for mid in mids), 0, 0)

    def loop(self, timeout: float = 1.0) -> MQTTErrorCode:
        """Packets left in the block first: `select()` sees only the socket, which may be quiet while the block
        still holds the rest of a backlog (seen: a SUBACK stuck behind redelivered PUBLISHes until the keepalive)."""
        if self.buffered():
            rc = self.loop_read()
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return rc
            timeout = 0.0
        return super().loop(timeout)

    def _create_socket(self) -> Any:
        """paho's socket with Nagle's algorithm off: a PUBACK goes out when it is written, not after the broker's
        delayed ACK (the broker, with ``set_tcp_nodelay``, does the same for the PUBLISHes)."""
        sock = super()._create_socket()
        with contextlib.suppress(OSError, AttributeError):  # a unix socket has no TCP options
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _reset_sockets(self, sockpair_only: bool = False) -> None:
        super()._reset_sockets(sockpair_only)
        if not sockpair_only:  # a new connection starts with an empty block
            self._block, self._at = b"", 0


def _varint(data: bytes, at: int, end: int) -> tuple[int, int]:
    """An MQTT variable byte integer at `at`: (where what follows it starts, its value); (-1, 0) when `data` ends
    before it does or it runs over four bytes."""
    value, shift = 0, 0
    while at < end and shift <= 21:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return at, value
        shift += 7
    return -1, 0
