"""Why a JT/T 808 frame was refused: the reason its dead letter carries (docs/jt808.md).

Prefixed ``jt808_`` so one reason namespace serves the MQTT and the JT/T 808 paths (gateway/rejections.py).
"""

from __future__ import annotations

from enum import StrEnum


class Jt808Reason(StrEnum):
    BAD_ESCAPE = "jt808_bad_escape"  # 0x7d followed by anything but 0x01 / 0x02
    BAD_CHECK_CODE = "jt808_bad_check_code"  # the XOR of header and body differs from the frame's check code
    BAD_HEADER = "jt808_bad_header"  # too short, or a body length that is not the frame's
    BAD_BODY = "jt808_bad_body"  # a body that does not parse (lengths, BCD, dates)
    OVERSIZE = "jt808_oversize"  # more bytes without a 0x7e than a frame may have
    UNKNOWN_MESSAGE = "jt808_unknown_message"  # a message id this gateway does not take
    ENCRYPTED = "jt808_encrypted"  # RSA-encrypted body: no key exchange (0x0A00) is supported
    UNAUTHENTICATED = "jt808_unauthenticated"  # a report before a successful 0x0102
    AUTH_FAILED = "jt808_auth_failed"  # a wrong authentication code
    UNKNOWN_TERMINAL = "jt808_unknown_terminal"  # a phone number the registry does not hold (or not a terminal)
    DEVICE_DISABLED = "jt808_device_disabled"
    SUBPACKET = "jt808_subpacket"  # a sub-packet out of bounds (index, count, too many pending)
    SUBPACKET_INCOMPLETE = "jt808_subpacket_incomplete"  # parts of a message that never completed in time
    SCHEMA = "jt808_schema"  # decoded, but outside the device profile (a latitude of 200 degrees)
    CLOCK_FUTURE = "jt808_clock_future"  # a fix time too far ahead of the gateway's clock


class Jt808Error(Exception):
    """A frame or body that cannot be used; `reason` is what its dead letter says."""

    def __init__(self, reason: Jt808Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
