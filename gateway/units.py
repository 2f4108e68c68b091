"""Unit conversion into each field's canonical unit.

A device may send a reading as a bare number (already in the profile's unit)
or as ``{"value": 12.5, "unit": "cm"}``.  The table is data: canonical unit →
accepted unit → (scale, offset), value_canonical = value × scale + offset.
"""

from __future__ import annotations

UNIT_CONVERSIONS: dict[str, dict[str, tuple[float, float]]] = {
    "mm": {"mm": (1, 0), "cm": (10, 0), "m": (1000, 0)},
    "m": {"m": (1, 0), "cm": (0.01, 0), "mm": (0.001, 0), "km": (1000, 0)},
    "m/s": {"m/s": (1, 0), "km/h": (1 / 3.6, 0), "kn": (0.514444, 0)},
    "degC": {"degC": (1, 0), "°C": (1, 0), "degF": (5 / 9, -160 / 9), "°F": (5 / 9, -160 / 9), "K": (1, -273.15)},
    "deg": {"deg": (1, 0), "°": (1, 0), "rad": (57.29577951308232, 0)},
    "%": {"%": (1, 0), "ratio": (100, 0)},
    "s": {"s": (1, 0), "ms": (0.001, 0), "min": (60, 0)},
}


class UnitError(ValueError):
    pass


def convert(value: float, unit: str, canonical: str) -> float:
    if unit == canonical:
        return value
    try:
        scale, offset = UNIT_CONVERSIONS[canonical][unit]
    except KeyError:
        accepted = sorted(UNIT_CONVERSIONS.get(canonical, {canonical: None}))
        raise UnitError(f"unit {unit!r} cannot be converted to {canonical!r} (accepted: {', '.join(accepted)})") \
            from None
    return value * scale + offset
