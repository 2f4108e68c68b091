"""A small reader of Mapbox Vector Tiles (the protobuf of the Vector Tile Specification 2.1) for tests: each layer's
features as their properties and geometry type, so a test can count what a tile draws (no MVT package needed)."""

from __future__ import annotations

import struct
from typing import Any

GEOMETRY_TYPES = {0: "unknown", 1: "point", 2: "line", 3: "polygon"}


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, i


def _fields(buf: bytes) -> list[tuple[int, Any]]:
    """(field number, value): varints as ints, length-delimited as bytes, fixed 32/64 as raw bytes."""
    out, i = [], 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            size, i = _varint(buf, i)
            value, i = buf[i:i + size], i + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, i = buf[i:i + size], i + size
        else:
            raise ValueError(f"wire type {wire} is not in a vector tile")
        out.append((number, value))
    return out


def _packed(buf: bytes) -> list[int]:
    values, i = [], 0
    while i < len(buf):
        v, i = _varint(buf, i)
        values.append(v)
    return values


def _value(buf: bytes) -> Any:
    ((number, raw),) = _fields(buf)
    if number == 1:
        return raw.decode()
    if number == 2:
        return struct.unpack("<f", raw)[0]
    if number == 3:
        return struct.unpack("<d", raw)[0]
    if number in (4, 5):
        return raw
    if number == 6:
        return (raw >> 1) ^ -(raw & 1)
    return bool(raw)


def layers(tile: bytes) -> dict[str, list[dict[str, Any]]]:
    """{layer name: [{"type": point|line|polygon, "properties": {...}}, ...]}."""
    result: dict[str, list[dict[str, Any]]] = {}
    for number, layer in _fields(tile):
        if number != 3:
            continue
        fields = _fields(layer)
        name = next(v.decode() for n, v in fields if n == 1)
        keys = [v.decode() for n, v in fields if n == 3]
        values = [_value(v) for n, v in fields if n == 4]
        features = []
        for feature in (v for n, v in fields if n == 2):
            ff = dict(_fields(feature))
            tags = _packed(ff.get(2, b""))
            features.append({"type": GEOMETRY_TYPES[ff.get(3, 0)],
                             "properties": {keys[tags[k]]: values[tags[k + 1]] for k in range(0, len(tags), 2)}})
        result[name] = features
    return result
