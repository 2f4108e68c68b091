"""Why a carrier push was refused: the reason its dead letter carries (docs/carriers.md).

Prefixed ``carrier_`` so one reason namespace serves MQTT, JT/T 808 and the carriers (gateway/rejections.py);
a push that passed its platform's check but whose device bytes break the profile keeps the MQTT path's reasons
(``schema``, ``clock_future`` …), since it went through the same validation.
"""

from __future__ import annotations

from enum import StrEnum


class CarrierReason(StrEnum):
    BAD_BODY = "carrier_bad_body"  # not the platform's push JSON (missing fields, wrong types)
    UNKNOWN_DEVICE = "carrier_unknown_device"  # a carrier device id bound to none of ours (devices bind-carrier)
    DEVICE_DISABLED = "carrier_device_disabled"
    BAD_PAYLOAD = "carrier_bad_payload"  # the device's bytes: bad base64/hex, a length the layout does not have
    NO_LAYOUT = "carrier_no_layout"  # bytes for a profile whose telemetry declares no binary layout


class CarrierError(Exception):
    def __init__(self, reason: CarrierReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
