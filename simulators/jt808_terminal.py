"""A simulated JT/T 808 vehicle terminal over asyncio TCP: register, authenticate, heartbeat, report positions.

Written apart from the gateway's codec (simulators import nothing of gateway/, docs/architecture.md), from the
standard's layout, so the tests that drive the gateway with it check one implementation against another.
Frames: ``7e | header | body | XOR check | 7e`` with 0x7e → 7d 02 and 0x7d → 7d 01; the 2013 header carries a
6-byte BCD phone number, the 2019 one the version flag (attribute bit 14), protocol version 1 and 10 BCD bytes.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import reduce
from operator import xor

BEIJING = timezone(timedelta(hours=8))
REGISTER, AUTHENTICATE, HEARTBEAT, LOCATION, BATCH = 0x0100, 0x0102, 0x0002, 0x0200, 0x0704
PLATFORM_RESPONSE, REGISTER_RESPONSE = 0x8001, 0x8100
ALARM_EMERGENCY, ALARM_OVERSPEED, ALARM_AREA = 1 << 0, 1 << 1, 1 << 20
STATUS_ACC, STATUS_FIX = 1 << 0, 1 << 1


class TerminalError(RuntimeError):
    """The platform refused the terminal, or did not answer in time."""


def frame(msg_id: int, phone: str, serial: int, body: bytes, edition: int = 2013) -> bytes:
    if edition == 2019:
        head = struct.pack(">HHB", msg_id, len(body) | 1 << 14, 1) + bytes.fromhex(phone.rjust(20, "0"))
    else:
        head = struct.pack(">HH", msg_id, len(body)) + bytes.fromhex(phone.rjust(12, "0"))
    content = head + struct.pack(">H", serial) + body
    content += bytes((reduce(xor, content, 0),))
    return b"\x7e" + content.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02") + b"\x7e"


def parse(raw: bytes) -> tuple[int, int, bytes]:
    """(message id, serial, body) of one frame's inner bytes, as the platform sent them."""
    data = raw.replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")
    if reduce(xor, data[:-1], 0) != data[-1]:
        raise TerminalError(f"the platform's frame has a bad check code: {raw.hex()}")
    msg_id, attrs = struct.unpack_from(">HH", data)
    at = 17 if attrs & 1 << 14 else 12
    (serial,) = struct.unpack_from(">H", data, at - 2)
    return msg_id, serial, data[at:-1]


@dataclass
class Fix:
    """One position: WGS-84 degrees, km/h, degrees from north, the terminal's alarm flags and extras."""

    lon: float
    lat: float
    at: datetime
    speed_kmh: float = 0.0
    heading: int = 0
    altitude_m: int = 20
    alarm: int = 0
    mileage_km: float | None = None
    area: tuple[int, bool] | None = None  # (area id, leaving) for item 0x12
    overspeed_item: bool = False
    extra_items: bytes = b""  # further additional items as sent (id, length, value each), e.g. a video terminal's

    def body(self) -> bytes:
        status = STATUS_ACC | STATUS_FIX | (1 << 2 if self.lat < 0 else 0) | (1 << 3 if self.lon < 0 else 0)
        out = struct.pack(">IIIIHHH", self.alarm, status, round(abs(self.lat) * 1e6), round(abs(self.lon) * 1e6),
                          self.altitude_m, round(self.speed_kmh * 10), self.heading % 360)
        out += bytes.fromhex(self.at.astimezone(BEIJING).strftime("%y%m%d%H%M%S"))
        if self.mileage_km is not None:
            out += bytes((0x01, 4)) + struct.pack(">I", round(self.mileage_km * 10))
        if self.overspeed_item:
            out += bytes((0x11, 1, 0))
        if self.area is not None:
            out += bytes((0x12, 6)) + struct.pack(">BIB", 1, self.area[0], 1 if self.area[1] else 0)
        return out + self.extra_items


@dataclass
class Terminal:
    phone: str
    plate: str = "皖N00001"
    edition: int = 2013
    timeout_s: float = 10.0
    auth_code: str | None = None
    answers: dict[int, int] = field(default_factory=dict)  # serial → result of the platform's 0x8001
    _serial: int = 0
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None
    _buffer: bytes = b""

    async def connect(self, host: str, port: int) -> None:
        self._reader, self._writer = await asyncio.open_connection(host, port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()
            self._writer = None

    def streams(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """The connection itself, for a load generator that writes frames of its own."""
        assert self._reader is not None and self._writer is not None, "connect first"
        return self._reader, self._writer

    def _next(self) -> int:
        self._serial = (self._serial + 1) & 0xFFFF
        return self._serial

    async def send(self, msg_id: int, body: bytes) -> int:
        assert self._writer is not None, "connect first"
        serial = self._next()
        self._writer.write(frame(msg_id, self.phone, serial, body, self.edition))
        await self._writer.drain()
        return serial

    async def receive(self) -> tuple[int, int, bytes]:
        assert self._reader is not None, "connect first"
        while b"\x7e" not in self._buffer.lstrip(b"\x7e"):
            chunk = await asyncio.wait_for(self._reader.read(4096), self.timeout_s)
            if not chunk:
                raise TerminalError("the platform closed the connection")
            self._buffer += chunk
        data = self._buffer.lstrip(b"\x7e")
        end = data.index(b"\x7e")
        self._buffer = data[end + 1:]
        return parse(data[:end])

    async def answer_to(self, serial: int, want: int = PLATFORM_RESPONSE) -> tuple[int, bytes]:
        """The platform's answer (result, body) to our message `serial`; other answers are kept in `answers`."""
        while True:
            msg_id, _, body = await self.receive()
            if msg_id == PLATFORM_RESPONSE:
                answered, _, result = struct.unpack(">HHB", body)
                self.answers[answered] = result
                if want == PLATFORM_RESPONSE and answered == serial:
                    return result, body
            elif msg_id == REGISTER_RESPONSE and want == REGISTER_RESPONSE:
                (answered,) = struct.unpack_from(">H", body)
                if answered == serial:
                    return body[2], body[3:]

    async def register(self) -> str:
        sizes = (11, 30, 30) if self.edition == 2019 else (5, 20, 7)
        fixed = [b"CGSIM", b"CG-808", self.phone[-7:].encode()]
        body = struct.pack(">HH", 34, 1523)
        body += b"".join(v[:n].ljust(n, b"\x00") for v, n in zip(fixed, sizes, strict=True))
        body += bytes((2,)) + self.plate.encode("gbk")
        result, code = await self.answer_to(await self.send(REGISTER, body), REGISTER_RESPONSE)
        if result != 0:
            raise TerminalError(f"registration of {self.phone} refused: result {result}")
        self.auth_code = code.decode("gbk")
        return self.auth_code

    async def authenticate(self, code: str | None = None) -> None:
        code_raw = (code or self.auth_code or "").encode("gbk")
        body = code_raw if self.edition == 2013 else (bytes((len(code_raw),)) + code_raw + b"86" + self.phone[-13:]
                                                      .rjust(13, "0").encode() + b"CGSIM-1.0".ljust(20, b"\x00"))
        result, _ = await self.answer_to(await self.send(AUTHENTICATE, body))
        if result != 0:
            raise TerminalError(f"authentication of {self.phone} refused: result {result}")

    async def heartbeat(self) -> int:
        result, _ = await self.answer_to(await self.send(HEARTBEAT, b""))
        return result

    async def report(self, fix: Fix, wait: bool = True) -> int:
        """Send a 0x0200; with `wait`, return the platform's result (0 once Kafka has it), else the serial."""
        serial = await self.send(LOCATION, fix.body())
        return (await self.answer_to(serial))[0] if wait else serial

    async def report_batch(self, fixes: list[Fix], blind_area: bool = False) -> int:
        body = struct.pack(">HB", len(fixes), 1 if blind_area else 0)
        for fix in fixes:
            raw = fix.body()
            body += struct.pack(">H", len(raw)) + raw
        return (await self.answer_to(await self.send(BATCH, body)))[0]
