"""The gateway's MQTT client (gateway/mqtt_client.py) takes every packet that has arrived per read, from block
reads, whatever the TCP segments' boundaries."""

from __future__ import annotations

import socket

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway.mqtt_client import GatewayClient


def _varint(n: int) -> bytes:
    """An MQTT variable byte integer (a remaining length, a property block's length)."""
    out = bytearray()
    while True:
        n, byte = divmod(n, 128)
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _publish_v5(topic: str, payload: bytes) -> bytes:
    """PUBLISH, QoS 0, MQTT 5 (an empty property block)."""
    body = len(topic).to_bytes(2, "big") + topic.encode() + b"\x00" + payload
    return b"\x30" + _varint(len(body)) + body


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


# -- QoS 1 PUBLISHes parsed in place (GatewayClient._take_publishes) ---------------------------------------------
def _publish_qos1(topic: str, payload: bytes, mid: int, *, v5: bool = True, retain: bool = False,
                  properties: bytes = b"") -> bytes:
    body = len(topic).to_bytes(2, "big") + topic.encode() + mid.to_bytes(2, "big")
    if v5:
        body += _varint(len(properties)) + properties
    return bytes([0x32 | (0x01 if retain else 0)]) + _varint(len(body + payload)) + body + payload


# A message expiry interval and a user property: what a broker may put in the properties of a PUBLISH it forwards.
PROPERTIES = b"\x02\x00\x00\x0e\x10" + b"\x26\x00\x03via\x00\x03mqt"
SUBACK = b"\x90\x04\x00\x01\x00\x01"  # MQTT 5 SUBACK: packet id 1, no properties, one reason code (granted QoS 1)


def _fast_client(protocol: int = mqtt.MQTTv5) -> tuple[GatewayClient, socket.socket, list[tuple], list[tuple]]:
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    client = GatewayClient(CallbackAPIVersion.VERSION2, protocol=protocol, manual_ack=True)
    client._sock = ours
    fast: list[tuple] = []
    by_paho: list[tuple] = []
    client.on_publish_received = lambda topic, payload, retain, mid: fast.append((topic, payload, retain, mid))
    client.on_message = lambda _c, _u, m: by_paho.append((m.topic, m.payload, m.retain, m.mid))
    return client, broker, fast, by_paho


def _mixed(v5: bool) -> tuple[bytes, list[tuple]]:
    """QoS 1 PUBLISHes of every size class (a remaining length of 1, 2 and 3 bytes), with and without properties
    and RETAIN, and a SUBACK among them."""
    packets, expected = [], []
    for n in range(40):
        payload = b'{"seq": %d}' % n + b"x" * (n * n * 11 % 20000)
        props = PROPERTIES if n % 3 == 0 else b""
        packets.append(_publish_qos1(f"cg/d{n}/telemetry", payload, n + 1, v5=v5, retain=n % 5 == 0,
                                     properties=props))
        expected.append((f"cg/d{n}/telemetry", payload, n % 5 == 0, n + 1))
        if n == 17:
            packets.append(SUBACK)
    return b"".join(packets), expected


def test_qos1_publishes_are_parsed_in_place_with_their_properties_skipped() -> None:
    stream, expected = _mixed(v5=True)
    client, broker, fast, by_paho = _fast_client()
    broker.sendall(stream[:60_000])
    client.loop_read()
    broker.sendall(stream[60_000:])
    for _ in range(30):
        client.loop_read()
    assert fast + by_paho != []
    assert sorted(fast + by_paho, key=lambda m: m[3]) == expected
    assert by_paho == [] or len(fast) > len(by_paho)  # paho only takes what a block cut
    assert len(fast) >= 30


def test_qos1_publishes_split_at_every_byte_arrive_whole_in_order_mqtt_311() -> None:
    stream, expected = _mixed(v5=False)
    client, broker, _, _ = _fast_client(mqtt.MQTTv311)
    got = []
    client.on_publish_received = lambda topic, payload, retain, mid: got.append((topic, payload, retain, mid))
    client.on_message = lambda _c, _u, m: got.append((m.topic, m.payload, m.retain, m.mid))
    for start in range(0, len(stream), 7):
        broker.sendall(stream[start:start + 7])
        client.loop_read()
    assert got == expected


def test_a_qos0_publish_and_a_malformed_one_are_left_to_paho() -> None:
    client, broker, fast, by_paho = _fast_client()
    qos0 = _publish_v5("cg/d1/telemetry", b"{}")
    broken = b"\x32\x03\x00\x09a"  # a topic length running past the packet's end
    pingresp = b"\xd0\x00"  # paho's reader takes the first packet of a block (its read fills the block)
    broker.sendall(pingresp + _publish_qos1("cg/d0/telemetry", b"{}", 5) + qos0 + broken)
    rc = client.loop_read()
    assert fast == [("cg/d0/telemetry", b"{}", False, 5)]
    assert by_paho == [("cg/d1/telemetry", b"{}", False, 0)]
    assert rc != mqtt.MQTT_ERR_SUCCESS  # paho's reader refused the broken packet
