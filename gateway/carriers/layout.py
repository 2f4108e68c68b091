"""A profile's binary layout (civicgrid/profiles.py `BinaryLayout`) applied to a device's bytes.

NB-IoT devices send a few packed bytes to save airtime and battery; the carrier hands them on untouched. The
layout is compiled once into one `struct.Struct`, so decoding is one call; the decoded values then go through
the same validation as an MQTT device's JSON (gateway/validation.py), ranges included.
"""

from __future__ import annotations

import struct
from typing import Any

from civicgrid.profiles import BinaryLayout
from gateway.carriers.errors import CarrierError, CarrierReason

_INTEGER = frozenset("BbHhIiQq")


class CompiledLayout:
    def __init__(self, layout: BinaryLayout) -> None:
        order = ">" if layout.byte_order == "big" else "<"
        self.struct = struct.Struct(order + "".join(f.format for f in layout.fields))
        self.fields = [(f.name, f.scale, f.offset, f.format in _INTEGER and f.scale == 1 and f.offset == 0)
                       for f in layout.fields if f.format != "x"]

    def decode(self, payload: bytes) -> dict[str, Any]:
        if len(payload) != self.struct.size:
            raise CarrierError(CarrierReason.BAD_PAYLOAD,
                               f"{len(payload)} bytes; the profile's binary layout has {self.struct.size}")
        values = self.struct.unpack(payload)
        out: dict[str, Any] = {}
        for (name, scale, offset, integer), value in zip(self.fields, values, strict=True):
            out[name] = int(value) if integer else round(value * scale + offset, 6)
        return out
