"""JT/T 808 frames: 0x7e delimiting, escaping, the check code and the message header (2013 and 2019).

A frame on the wire is ``7e | header | body | check code | 7e``, with every 0x7e inside escaped as
``7d 02`` and every 0x7d as ``7d 01`` (JT/T 808-2019 §4.4.1; the same in 2013). The check code is the XOR
of every byte of header and body. The header (§4.4.3):

| field | 2013 | 2019 |
| --- | --- | --- |
| message id | WORD | WORD |
| body attributes | WORD: bits 0-9 body length, 10-12 encryption (10: RSA), 13 sub-packet | and bit 14: version (1) |
| protocol version | — | BYTE (1 for the 2019 edition) |
| terminal phone number | BCD[6] (12 digits) | BCD[10] (20 digits) |
| message serial number | WORD | WORD |
| sub-packet item (only with bit 13) | WORD total, WORD index (from 1) | the same |

Parsing is strict (a frame either decodes whole or raises `Jt808Error` with its reason); nothing here
touches a socket.
"""

from __future__ import annotations

import functools
import re
import struct
from dataclasses import dataclass
from enum import IntEnum

from gateway.jt808.errors import Jt808Error, Jt808Reason

FLAG = 0x7E
MAX_BODY = 0x3FF  # ten bits of body length (1023 bytes); longer messages travel as sub-packets
_BAD_ESCAPE = re.compile(rb"\x7d(?![\x01\x02])", re.DOTALL)
_ATTR_SUBPACKET = 1 << 13
_ATTR_VERSION = 1 << 14
_ATTR_RSA = 1 << 10


class Edition(IntEnum):
    V2013 = 2013
    V2019 = 2019


@dataclass(frozen=True, slots=True)
class SubPacket:
    total: int  # packets in the message
    index: int  # this one's place, from 1


@dataclass(frozen=True, slots=True)
class Packet:
    """One unescaped, checked frame: header fields and the body bytes."""

    msg_id: int
    phone: str  # the BCD digits as sent (12 in 2013, 20 in 2019)
    serial: int
    body: bytes
    edition: Edition = Edition.V2013
    protocol_version: int = 0  # 2019 only
    encryption: int = 0  # bits 10-12 of the body attributes (1: RSA)
    subpacket: SubPacket | None = None

    @property
    def terminal_id(self) -> str:
        """The registry's id of the terminal: its phone number without the BCD padding zeros, the same in both
        editions (``013912345678`` in 2013 and ``00000000013912345678`` in 2019 are both ``13912345678``)."""
        return device_id_of(self.phone)


def device_id_of(phone: str) -> str:
    return phone.lstrip("0") or "0"


def escape(data: bytes) -> bytes:
    return data.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02")


def unescape(data: bytes) -> bytes:
    """The frame's bytes as sent before escaping; a 0x7d not followed by 0x01 or 0x02 is refused."""
    if b"\x7d" not in data:
        return data
    bad = _BAD_ESCAPE.search(data)
    if bad is not None:
        raise Jt808Error(Jt808Reason.BAD_ESCAPE, f"0x7d at byte {bad.start()} is not an escape")
    # Valid input is a sequence of plain bytes and 7d01 / 7d02 pairs, so a 7d02 can only be a pair.
    return data.replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")


def check_code(data: bytes) -> int:
    """XOR of every byte: the bytes as one integer folded in halves (a byte loop costs ~4 µs a report)."""
    x, width = int.from_bytes(data, "little"), len(data)
    while width > 1:
        half = (width + 1) // 2
        x = (x >> (half * 8)) ^ (x & ((1 << (half * 8)) - 1))
        width = half
    return x


def bcd_digits(raw: bytes, what: str, reason: Jt808Reason = Jt808Reason.BAD_HEADER) -> str:
    text = raw.hex()
    if not text.isdigit():
        raise Jt808Error(reason, f"{what} is not BCD: {text}")
    return text


@functools.lru_cache(maxsize=65536)  # a terminal's phone number, encoded for each answer it is sent
def to_bcd(digits: str, size: int) -> bytes:
    """`digits` left-padded with zeros to `size` bytes of BCD."""
    if not digits.isdigit() or len(digits) > size * 2:
        raise ValueError(f"{digits!r} does not fit BCD[{size}]")
    return bytes.fromhex(digits.rjust(size * 2, "0"))


def decode_frame(frame: bytes) -> Packet:
    """One frame's content (between the 0x7e flags, still escaped) → `Packet`, or `Jt808Error`."""
    data = unescape(frame)
    if len(data) < 13:  # 2013 header (12) + check code
        raise Jt808Error(Jt808Reason.BAD_HEADER, f"{len(data)} bytes is shorter than any header")
    content, check = data[:-1], data[-1]
    computed = check_code(content)
    if computed != check:
        raise Jt808Error(Jt808Reason.BAD_CHECK_CODE, f"check code {check:#04x}, computed {computed:#04x}")
    msg_id, attrs = struct.unpack_from(">HH", content)
    if attrs & _ATTR_VERSION:
        if len(content) < 17:
            raise Jt808Error(Jt808Reason.BAD_HEADER, "2019 header cut short")
        edition, protocol_version = Edition.V2019, content[4]
        phone = bcd_digits(content[5:15], "phone number")
        (serial,) = struct.unpack_from(">H", content, 15)
        at = 17
    else:
        edition, protocol_version = Edition.V2013, 0
        phone = bcd_digits(content[4:10], "phone number")
        (serial,) = struct.unpack_from(">H", content, 10)
        at = 12
    subpacket = None
    if attrs & _ATTR_SUBPACKET:
        if len(content) < at + 4:
            raise Jt808Error(Jt808Reason.BAD_HEADER, "sub-packet item cut short")
        total, index = struct.unpack_from(">HH", content, at)
        subpacket = SubPacket(total, index)
        at += 4
    body = content[at:]
    length = attrs & MAX_BODY
    if len(body) != length:
        raise Jt808Error(Jt808Reason.BAD_HEADER, f"body is {len(body)} bytes, the header says {length}")
    return Packet(msg_id, phone, serial, body, edition, protocol_version, (attrs >> 10) & 0x7, subpacket)


def encode_frame(packet: Packet) -> bytes:
    """A packet as it goes on the wire, flags included."""
    if len(packet.body) > MAX_BODY:
        raise ValueError(f"a {len(packet.body)}-byte body needs sub-packets (at most {MAX_BODY} bytes each)")
    attrs = len(packet.body) | (packet.encryption & 0x7) << 10
    if packet.subpacket is not None:
        attrs |= _ATTR_SUBPACKET
    if packet.edition is Edition.V2019:
        attrs |= _ATTR_VERSION
        head = struct.pack(">HHB", packet.msg_id, attrs, packet.protocol_version) + to_bcd(packet.phone, 10)
    else:
        head = struct.pack(">HH", packet.msg_id, attrs) + to_bcd(packet.phone, 6)
    head += struct.pack(">H", packet.serial)
    if packet.subpacket is not None:
        head += struct.pack(">HH", packet.subpacket.total, packet.subpacket.index)
    content = head + packet.body
    return b"\x7e" + escape(content + bytes((check_code(content),))) + b"\x7e"


def split_message(msg_id: int, phone: str, first_serial: int, body: bytes, edition: Edition,
                  protocol_version: int = 1, max_body: int = MAX_BODY) -> list[Packet]:
    """A long body as sub-packets with consecutive serial numbers (§4.4.3: each packet its own serial)."""
    parts = [body[i:i + max_body] for i in range(0, len(body), max_body)] or [b""]
    return [Packet(msg_id, phone, (first_serial + n) & 0xFFFF, part, edition,
                   protocol_version if edition is Edition.V2019 else 0, 0, SubPacket(len(parts), n + 1))
            for n, part in enumerate(parts)]


@dataclass(frozen=True, slots=True)
class Oversize:
    """More bytes arrived without a closing 0x7e than a frame may have: the first of them, and the count."""

    head: bytes
    size: int


class FrameReader:
    """Cuts a TCP byte stream into frames, holding at most `max_frame` bytes of an unfinished one.

    Frames are the non-empty runs between two 0x7e (so ``7e A 7e 7e B 7e`` and a shared flag, ``7e A 7e B 7e``,
    both give A and B). A run longer than `max_frame` is given up as `Oversize`, and what follows it is skipped
    up to the next 0x7e, so a terminal cannot make the gateway hold more than `max_frame` bytes.
    """

    def __init__(self, max_frame: int, keep: int = 4096) -> None:
        self.max_frame = max_frame
        self.keep = keep
        self._buf = bytearray()
        self._skipping = False  # after an oversize run, until the next 0x7e

    def feed(self, data: bytes) -> list[bytes | Oversize]:
        out: list[bytes | Oversize] = []
        start = 0
        while True:
            at = data.find(b"\x7e", start)
            if at < 0:
                self._take(data[start:], out)
                return out
            self._take(data[start:at], out)
            if self._skipping:
                self._skipping = False
            elif self._buf:
                out.append(bytes(self._buf))
            self._buf.clear()
            start = at + 1

    def _take(self, chunk: bytes, out: list[bytes | Oversize]) -> None:
        if not chunk:
            return
        if self._skipping:
            return
        self._buf += chunk
        if len(self._buf) > self.max_frame:
            out.append(Oversize(bytes(self._buf[:self.keep]), len(self._buf)))
            self._buf.clear()
            self._skipping = True

    @property
    def pending(self) -> int:
        return len(self._buf)
