"""Whatever a peer sends, the GB/T 28181 gateway goes on serving (hypothesis over real UDP and TCP, bounded).

Arbitrary bytes, valid SIP messages of every kind the gateway takes with bytes flipped, and an unframed flood over
TCP. After them a device that behaves still registers through the challenge and keeps alive; health stays 200 and
the refusals are counted by reason.
"""

from __future__ import annotations

import asyncio
import socket

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicgrid.settings import Settings
from simulators.gb28181_device import Device, xml
from tests.e2e.test_gb28181 import _healthy, _metrics, gb28181, provision  # noqa: F401 - the gateway fixture
from tests.support.fuzz import flip, send_over_tcp

FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
DEVICE = "34020000001320000077"


def _message(method: str, body: bytes = b"", extra: str = "") -> bytes:
    head = (f"{method} sip:34020000002000000001@3402000000 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:5060;rport;branch=z9hG4bK1\r\n"
            f"From: <sip:{DEVICE}@3402000000>;tag=1\r\nTo: <sip:34020000002000000001@3402000000>\r\n"
            f"Call-ID: 1@127.0.0.1\r\nCSeq: 1 {method}\r\n{extra}Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


VALID = [
    _message("REGISTER", extra="Expires: 3600\r\n"),
    _message("REGISTER", extra='Authorization: Digest username="34020000001320000077", realm="3402000000", '
                               'nonce="1.2", uri="sip:x", response="00"\r\n'),
    _message("MESSAGE", xml("Notify", f"<CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>{DEVICE}</DeviceID>")),
    _message("MESSAGE", xml("Response", f"<CmdType>Catalog</CmdType><SN>1</SN><DeviceID>{DEVICE}</DeviceID>"
                                        "<SumNum>1</SumNum><DeviceList><Item><DeviceID>1</DeviceID></Item>"
                                        "</DeviceList>")),
    _message("MESSAGE", xml("Notify", f"<CmdType>Alarm</CmdType><SN>2</SN><DeviceID>{DEVICE}</DeviceID>"
                                      "<AlarmMethod>5</AlarmMethod><Info><AlarmType>2</AlarmType></Info>")),
    _message("OPTIONS"), _message("INVITE"), b"SIP/2.0 200 OK\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n",
]


def test_nothing_a_peer_sends_stops_the_gateway(gb28181: Settings, db: psycopg.Connection) -> None:  # noqa: F811
    port = gb28181.gb28181.listen_port
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    seen = {"udp": 0, "tcp": 0}

    @FUZZ
    @given(st.binary(max_size=600))
    def arbitrary(payload: bytes) -> None:
        udp.sendto(payload or b"x", ("127.0.0.1", port))
        seen["udp"] += 1

    @FUZZ
    @given(st.sampled_from(VALID), st.lists(st.tuples(st.integers(0, 600), st.integers(0, 255)), min_size=1,
                                            max_size=4), st.booleans())
    def mutated(valid: bytes, flips: list[tuple[int, int]], over_tcp: bool) -> None:
        if over_tcp:
            send_over_tcp(port, flip(valid, flips) + valid)
            seen["tcp"] += 1
        else:
            udp.sendto(flip(valid, flips), ("127.0.0.1", port))
            seen["udp"] += 1

    arbitrary()
    mutated()
    send_over_tcp(port, b"MESSAGE sip:x SIP/2.0\r\n" + b"X-Flood: 0123456789\r\n" * 5000)  # headers that never end
    udp.close()
    assert _healthy(gb28181)
    print("fuzzed", seen)

    device_id, password = provision(gb28181, db)

    async def behave() -> None:
        camera = Device(device_id, password)
        await camera.connect("127.0.0.1", port)
        await camera.register()
        assert await camera.keepalive() == 200
        await camera.close()

    asyncio.run(behave())
    text = _metrics(gb28181)
    for reason in ("gb28181_bad_sip", "gb28181_oversize", "gb28181_unregistered"):
        assert f'reason="{reason}"' in text
