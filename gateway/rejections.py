"""Why a device message was refused: the reason every dead letter carries.

`Reason` is a StrEnum so tests and operators match on stable strings
(docs/architecture.md, "Parse once at the edge; reject with a reason").
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    BAD_TOPIC = "bad_topic"
    UNKNOWN_CHANNEL = "unknown_channel"
    UNKNOWN_DEVICE = "unknown_device"
    DEVICE_DISABLED = "device_disabled"
    TOO_LARGE = "too_large"
    NOT_JSON = "not_json"
    SCHEMA = "schema"
    BAD_UNIT = "bad_unit"
    BAD_TIMESTAMP = "bad_timestamp"
    CLOCK_FUTURE = "clock_future"
    # NMEA 0183 (gateway/nmea.py), prefixed so one reason namespace serves every kind.
    NMEA_CHECKSUM_MISMATCH = "nmea_checksum_mismatch"
    NMEA_MISSING_CHECKSUM = "nmea_missing_checksum"
    NMEA_BAD_FRAMING = "nmea_bad_framing"
    NMEA_MISSING_START = "nmea_missing_start"
    NMEA_FIELD_COUNT = "nmea_field_count"
    NMEA_BAD_FIELD = "nmea_bad_field"
    NMEA_NOT_NMEA = "nmea_not_nmea"
    NMEA_UNSUPPORTED_TYPE = "nmea_unsupported_type"


class Rejected(Exception):
    """A message that goes to ``cg.deadletter`` instead of its topic."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
