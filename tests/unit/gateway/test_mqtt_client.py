"""The gateway's MQTT client (gateway/mqtt_client.py) takes every packet that has arrived per read, from block
reads, whatever the TCP segments' boundaries."""

from __future__ import annotations

import socket

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway.mqtt_client import GatewayClient


def _publish_v5(topic: str, payload: bytes) -> bytes:
    """PUBLISH, QoS 0, MQTT 5 (an empty property block)."""
    body = len(topic).to_bytes(2, "big") + topic.encode() + b"\x00" + payload
    length, encoded = len(body), bytearray()
    while True:
        length, byte = divmod(length, 128)
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            break
    return b"\x30" + bytes(encoded) + body


def _client() -> tuple[GatewayClient, socket.socket, list[tuple[str, bytes]]]:
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    client = GatewayClient(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client._sock = ours
    got: list[tuple[str, bytes]] = []
    client.on_message = lambda _c, _u, m: got.append((m.topic, m.payload))
    return client, broker, got


PACKETS = [_publish_v5(f"cg/dev-{n}/telemetry", b'{"seq": %d, "fill_pct": %d}' % (n, n) + b" " * (n * 37 % 300))
           for n in range(60)]
EXPECTED = [(f"cg/dev-{n}/telemetry", p[p.index(b"{"):]) for n, p in enumerate(PACKETS)]


def test_one_read_takes_every_packet_that_arrived() -> None:
    client, broker, got = _client()
    broker.sendall(b"".join(PACKETS))
    assert client.loop_read() == mqtt.MQTT_ERR_SUCCESS
    assert got == EXPECTED  # paho's own loop_read takes one packet
    assert client.buffered() == 0


def test_packets_split_at_every_byte_arrive_whole_and_in_order() -> None:
    client, broker, got = _client()
    for byte in b"".join(PACKETS):
        broker.sendall(bytes([byte]))
        assert client.loop_read() == mqtt.MQTT_ERR_SUCCESS
    assert got == EXPECTED


def test_a_block_ending_mid_packet_is_continued_by_the_next() -> None:
    client, broker, got = _client()
    stream = b"".join(PACKETS)
    for start in range(0, len(stream), 1000):
        broker.sendall(stream[start:start + 1000])
        client.loop_read()
    assert got == EXPECTED


def test_a_poll_s_acks_go_out_as_one_write_of_ack_s_own_bytes() -> None:
    client, broker, _ = _client()
    broker.setblocking(False)
    assert client.acks([1, 2, 300, 65535]) == mqtt.MQTT_ERR_SUCCESS
    assert broker.recv(1024) == b"\x40\x02\x00\x01" b"\x40\x02\x00\x02" b"\x40\x02\x01\x2c" b"\x40\x02\xff\xff"
    client.manual_ack_set(True)
    client.ack(7, 1)  # paho's own PUBACK, for comparison
    assert broker.recv(1024) == b"\x40\x02\x00\x07"


def test_packets_left_in_the_block_are_taken_by_the_next_loop_though_the_socket_is_quiet() -> None:
    """More packets than one wake-up takes, all in one block: the rest is in the block, not in the socket, and
    `select()` would say the socket is idle (seen: a SUBACK stuck behind a redelivered backlog for 30 s)."""
    client, broker, got = _client()
    many = [_publish_v5(f"cg/d{n}/telemetry", b'{"seq": %d}' % n) for n in range(450)]  # one block's worth
    assert len(b"".join(many)) < 64 * 1024
    broker.sendall(b"".join(many))
    for _ in range(4):
        client.loop(timeout=0.01)
    assert len(got) == len(many)
