"""Payload validation and normalisation, compiled once per profile channel.

Profiles are data; this module turns each channel's field specs into a plain
Python function so the hot path does no model building per message (the
gateway handles ~10⁴ messages/s per process).  A compiled validator takes the
decoded JSON object and returns the normalised fields (canonical units), or
raises `Rejected` naming the field and what is wrong.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from civicgrid.profiles import ChannelSpec, FieldSpec, FieldType
from gateway.rejections import Reason, Rejected
from gateway.units import UnitError, convert

# A number: a tuple, not `int | float`, which builds a new union at each call (on every field of every message).
_NUMBER = (int, float)

FieldCheck = Callable[[Any], Any]
RESERVED = frozenset({"seq", "ts"})


def _number_check(name: str, spec: FieldSpec, integer: bool) -> FieldCheck:
    lo, hi, unit = spec.min, spec.max, spec.unit

    def check(value: Any) -> Any:
        kind = type(value)  # the usual case first: a plain int or float (not bool), as JSON gives it
        if kind is float:
            if not math.isfinite(value):
                raise Rejected(Reason.SCHEMA, f"{name}: {value} is not a finite number")
        elif kind is int:
            pass
        elif isinstance(value, dict):
            if unit is None or set(value) != {"value", "unit"}:
                raise Rejected(Reason.SCHEMA, f"{name}: expected a number"
                               + (f" or {{value, unit}} in {unit}" if unit else ""))
            try:
                value = convert(_as_number(name, value["value"]), str(value["unit"]), unit)
            except UnitError as exc:
                raise Rejected(Reason.BAD_UNIT, f"{name}: {exc}") from None
        else:
            value = _as_number(name, value)
        if integer and value != int(value):
            raise Rejected(Reason.SCHEMA, f"{name}: expected an integer, got {value}")
        if lo is not None and value < lo:
            raise Rejected(Reason.SCHEMA, f"{name}: {value} is below the minimum {lo:g}")
        if hi is not None and value > hi:
            raise Rejected(Reason.SCHEMA, f"{name}: {value} is above the maximum {hi:g}")
        return int(value) if integer else value

    return check


def _as_number(name: str, value: Any) -> float:
    # bool is an int in Python; a device sending true for a reading is a schema error.
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        raise Rejected(Reason.SCHEMA, f"{name}: expected a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise Rejected(Reason.SCHEMA, f"{name}: {value} is not a finite number")
    return value


def _string_check(name: str, spec: FieldSpec) -> FieldCheck:
    enum = frozenset(spec.enum) if spec.enum else None
    pattern = re.compile(spec.pattern) if spec.pattern else None
    max_length = spec.max_length

    def check(value: Any) -> Any:
        if not isinstance(value, str):
            raise Rejected(Reason.SCHEMA, f"{name}: expected a string, got {type(value).__name__}")
        if enum is not None and value not in enum:
            raise Rejected(Reason.SCHEMA, f"{name}: {value!r} is not one of {', '.join(sorted(enum))}")
        if pattern is not None and not pattern.fullmatch(value):
            raise Rejected(Reason.SCHEMA, f"{name}: {value!r} does not match {pattern.pattern}")
        if max_length is not None and len(value) > max_length:
            raise Rejected(Reason.SCHEMA, f"{name}: longer than {max_length} characters")
        return value

    return check


def _string_list_check(name: str, spec: FieldSpec) -> FieldCheck:
    max_items = spec.max_length

    def check(value: Any) -> Any:
        if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 128 for v in value):
            raise Rejected(Reason.SCHEMA, f"{name}: expected a list of ids (strings of 1-128 characters)")
        if max_items is not None and len(value) > max_items:
            raise Rejected(Reason.SCHEMA, f"{name}: more than {max_items} items")
        return value

    return check


def _boolean_check(name: str, spec: FieldSpec) -> FieldCheck:
    def check(value: Any) -> Any:
        if not isinstance(value, bool):
            raise Rejected(Reason.SCHEMA, f"{name}: expected true or false, got {type(value).__name__}")
        return value

    return check


def compile_field(name: str, spec: FieldSpec) -> FieldCheck:
    match spec.type:
        case FieldType.NUMBER:
            return _number_check(name, spec, integer=False)
        case FieldType.INTEGER:
            return _number_check(name, spec, integer=True)
        case FieldType.STRING:
            return _string_check(name, spec)
        case FieldType.BOOLEAN:
            return _boolean_check(name, spec)
        case FieldType.STRING_LIST:
            return _string_list_check(name, spec)
    raise AssertionError(spec.type)


def compile_channel(spec: ChannelSpec) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A function from the decoded payload object to its normalised fields (without seq and ts)."""
    checks = {name: compile_field(name, field) for name, field in spec.fields.items()}
    required = frozenset(name for name, field in spec.fields.items() if field.required)
    drop_unknown = spec.unknown_fields == "drop"

    def validate(obj: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key, value in obj.items():
            check = checks.get(key)
            if check is not None:
                if value is not None:
                    data[key] = check(value)
            elif key not in RESERVED and not drop_unknown:
                raise Rejected(Reason.SCHEMA, f"{key}: not a field of this channel "
                               f"(fields: {', '.join(sorted(checks)) or 'none'})")
        missing = required.difference(data)
        if missing:
            raise Rejected(Reason.SCHEMA, f"missing required field(s): {', '.join(sorted(missing))}")
        return data

    return validate


def parse_seq(obj: dict[str, Any]) -> int:
    seq = obj.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise Rejected(Reason.SCHEMA, "seq: a non-negative integer is required (per-device message counter)")
    return seq


class TimestampParser:
    """Device time (``ts``: ISO 8601 or epoch milliseconds) → aware UTC datetime, with a future-clock guard."""

    def __init__(self, naive_timezone: str, max_future_s: float) -> None:
        self.naive_tz = ZoneInfo(naive_timezone)
        self.max_future = timedelta(seconds=max_future_s)

    def __call__(self, raw: Any, received_at: datetime) -> datetime:
        if isinstance(raw, bool) or raw is None:
            raise Rejected(Reason.BAD_TIMESTAMP, "ts: required, ISO 8601 or epoch milliseconds")
        try:
            if isinstance(raw, _NUMBER):
                ts = datetime.fromtimestamp(raw / 1000, UTC)
            elif isinstance(raw, str):
                ts = datetime.fromisoformat(raw)
                # Devices that send local time without an offset send the city's time.
                ts = ts.replace(tzinfo=self.naive_tz) if ts.tzinfo is None else ts
                ts = ts.astimezone(UTC)
            else:
                raise TypeError(type(raw).__name__)
        except (ValueError, TypeError, OverflowError, OSError) as exc:
            raise Rejected(Reason.BAD_TIMESTAMP, f"ts: {raw!r} is not ISO 8601 or epoch ms ({exc})") from None
        if ts - received_at > self.max_future:
            raise Rejected(Reason.CLOCK_FUTURE, f"ts {ts.isoformat()} is more than "
                           f"{self.max_future.total_seconds():g} s ahead of the gateway clock")
        return ts
