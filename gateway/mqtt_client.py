"""The gateway's MQTT client: paho-mqtt's, reading the socket in blocks and taking every packet that has arrived
per wake-up.

paho's own loop reads one packet per `select()` and reads each packet with a `recv()` per header byte and one for
the body: five system calls or so for a 200-byte PUBLISH, which made paho's loop 71 % of the gateway's time at
1,500 msg/s (docs/performance.md). Two overrides of paho 2.2's read path (pinned below 2.3 in pyproject.toml for
that), nothing else:

- `_sock_recv` serves paho's small reads from a 64 KiB block read once;
- `loop_read` goes on while packets have arrived, up to `READ_AT_MOST` (paho 2.2 stops after one packet when no
  QoS 2 flow is open), and the gateway polls Kafka and sends the PUBACKs in between.

And one addition: `acks()` queues the PUBACKs of a poll's Kafka deliveries as one write.

`loop` takes what is left in the block before it waits in `select()` (the socket may look idle meanwhile).
`tests/integration/gateway/` runs the gateway on this client; `tests/unit/gateway/test_mqtt_client.py` feeds it
packets split at every byte.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.client import PUBACK
from paho.mqtt.enums import MQTTErrorCode

BLOCK_BYTES = 64 * 1024
_PUBACK = struct.Struct("!BBH")
# Packets one wake-up takes at most. Reading until the socket is empty, the gateway once read for a second
# on end at 3,000 msg/s while the records it had produced waited for their PUBACKs.
READ_AT_MOST = 200


class GatewayClient(mqtt.Client):
    """paho's `Client` with block reads (module docstring); everything else is paho's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._block = b""
        self._at = 0

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
        for _ in range(READ_AT_MOST):
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                return MQTTErrorCode.MQTT_ERR_SUCCESS
        return MQTTErrorCode.MQTT_ERR_SUCCESS

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
