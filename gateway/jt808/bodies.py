"""JT/T 808 message bodies the gateway takes and sends, each with its decoder and encoder (round trips).

Terminal → platform: general response 0x0001, heartbeat 0x0002 (empty), registration 0x0100,
authentication 0x0102, location report 0x0200 (gateway/jt808/location.py), batch location upload 0x0704.
Platform → terminal: general response 0x8001, registration response 0x8100.
Field sizes follow JT/T 808-2013 §8.1-8.8 and JT/T 808-2019 §8.1-8.8 (2019 widens the registration's maker,
model and terminal id and adds IMEI and software version to the authentication). Text is GBK (the standard's
STRING); fixed-size text is padded with 0x00 and read without the padding.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from gateway.jt808.errors import Jt808Error, Jt808Reason
from gateway.jt808.frames import Edition
from gateway.jt808.location import Location, decode_location, encode_location


class MsgId(IntEnum):
    TERMINAL_RESPONSE = 0x0001
    HEARTBEAT = 0x0002
    REGISTER = 0x0100
    AUTHENTICATE = 0x0102
    LOCATION = 0x0200
    BATCH_LOCATION = 0x0704
    PLATFORM_RESPONSE = 0x8001
    REGISTER_RESPONSE = 0x8100


class Result(IntEnum):
    """The general responses' result byte (0x0001 and 0x8001)."""

    OK = 0
    FAILED = 1
    MESSAGE_ERROR = 2
    NOT_SUPPORTED = 3
    ALARM_CONFIRMED = 4  # 0x8001 only


class RegisterResult(IntEnum):
    """0x8100's result byte."""

    OK = 0
    VEHICLE_REGISTERED = 1
    NO_VEHICLE = 2
    TERMINAL_REGISTERED = 3
    NO_TERMINAL = 4


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\x00").decode("gb18030", errors="replace")


def _fixed(text: str, size: int) -> bytes:
    raw = text.encode("gbk")
    if len(raw) > size:
        raise ValueError(f"{text!r} is longer than {size} bytes")
    return raw.ljust(size, b"\x00")


def _need(body: bytes, size: int, what: str) -> None:
    if len(body) < size:
        raise Jt808Error(Jt808Reason.BAD_BODY, f"{what} of {len(body)} bytes, at least {size}")


@dataclass(frozen=True, slots=True)
class GeneralResponse:
    """0x0001 (terminal) and 0x8001 (platform): which message it answers, and the result."""

    serial: int
    msg_id: int
    result: int

    @classmethod
    def decode(cls, body: bytes) -> GeneralResponse:
        if len(body) != 5:
            raise Jt808Error(Jt808Reason.BAD_BODY, f"general response of {len(body)} bytes, 5 expected")
        return cls(*struct.unpack(">HHB", body))

    def encode(self) -> bytes:
        return struct.pack(">HHB", self.serial, self.msg_id, self.result)


# Registration's fixed fields per edition: maker id, terminal model, terminal id.
_REGISTER_SIZES = {Edition.V2013: (5, 20, 7), Edition.V2019: (11, 30, 30)}


@dataclass(frozen=True, slots=True)
class Registration:
    """0x0100: where the vehicle is registered, who made the terminal, and the plate."""

    province: int
    city: int
    maker: str
    model: str
    terminal: str
    plate_color: int
    plate: str

    @classmethod
    def decode(cls, body: bytes, edition: Edition) -> Registration:
        maker, model, terminal = _REGISTER_SIZES[edition]
        fixed = 4 + maker + model + terminal + 1
        _need(body, fixed, "registration")
        province, city = struct.unpack_from(">HH", body)
        at = 4 + maker + model + terminal
        return cls(province, city, _text(body[4:4 + maker]), _text(body[4 + maker:4 + maker + model]),
                   _text(body[4 + maker + model:at]), body[at], _text(body[at + 1:]))

    def encode(self, edition: Edition) -> bytes:
        maker, model, terminal = _REGISTER_SIZES[edition]
        return (struct.pack(">HH", self.province, self.city) + _fixed(self.maker, maker) + _fixed(self.model, model)
                + _fixed(self.terminal, terminal) + bytes((self.plate_color,)) + self.plate.encode("gbk"))


@dataclass(frozen=True, slots=True)
class RegisterResponse:
    """0x8100: the answer to a registration, with the authentication code when it succeeded."""

    serial: int
    result: int
    auth_code: str = ""

    @classmethod
    def decode(cls, body: bytes) -> RegisterResponse:
        _need(body, 3, "registration response")
        serial, result = struct.unpack_from(">HB", body)
        return cls(serial, result, body[3:].decode("gb18030", errors="replace"))

    def encode(self) -> bytes:
        code = self.auth_code.encode("gbk") if self.result == RegisterResult.OK else b""
        return struct.pack(">HB", self.serial, self.result) + code


@dataclass(frozen=True, slots=True)
class Authentication:
    """0x0102: the code the registration gave; 2019 adds its length, the IMEI and the software version."""

    code: str
    imei: str = ""
    software_version: str = ""

    @classmethod
    def decode(cls, body: bytes, edition: Edition) -> Authentication:
        if edition is Edition.V2013:
            return cls(body.decode("gb18030", errors="replace"))
        _need(body, 1, "authentication")
        n = body[0]
        _need(body, 1 + n + 15 + 20, "2019 authentication")
        if len(body) != 1 + n + 35:
            raise Jt808Error(Jt808Reason.BAD_BODY, f"2019 authentication of {len(body)} bytes, {1 + n + 35} expected")
        return cls(body[1:1 + n].decode("gb18030", errors="replace"), _text(body[1 + n:16 + n]), _text(body[16 + n:]))

    def encode(self, edition: Edition) -> bytes:
        code = self.code.encode("gbk")
        if edition is Edition.V2013:
            return code
        return bytes((len(code),)) + code + _fixed(self.imei, 15) + _fixed(self.software_version, 20)


@dataclass(frozen=True, slots=True)
class BatchLocation:
    """0x0704: several location reports at once; `blind_area` (type 1) are positions stored while offline."""

    blind_area: bool
    locations: tuple[Location, ...]

    @classmethod
    def decode(cls, body: bytes) -> BatchLocation:
        _need(body, 3, "batch location upload")
        count, kind = struct.unpack_from(">HB", body)
        at, locations = 3, []
        for n in range(count):
            if at + 2 > len(body):
                raise Jt808Error(Jt808Reason.BAD_BODY, f"batch says {count} reports, item {n + 1} is missing")
            (size,) = struct.unpack_from(">H", body, at)
            chunk = body[at + 2:at + 2 + size]
            if len(chunk) != size:
                raise Jt808Error(Jt808Reason.BAD_BODY, f"batch item {n + 1} says {size} bytes, {len(chunk)} left")
            locations.append(decode_location(chunk))
            at += 2 + size
        if at != len(body):
            raise Jt808Error(Jt808Reason.BAD_BODY, f"{len(body) - at} bytes after the batch's {count} reports")
        return cls(kind == 1, tuple(locations))

    def encode(self) -> bytes:
        out = struct.pack(">HB", len(self.locations), 1 if self.blind_area else 0)
        for loc in self.locations:
            raw = encode_location(loc)
            out += struct.pack(">H", len(raw)) + raw
        return out
