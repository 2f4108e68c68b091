"""Why a GB/T 28181 message was refused: the reason its dead letter carries (docs/gb28181.md).

Prefixed ``gb28181_`` so one reason namespace serves every path into `cg.deadletter` (gateway/rejections.py).
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    BAD_SIP = "gb28181_bad_sip"  # not a SIP message: start line, header lines, Content-Length, missing headers
    OVERSIZE = "gb28181_oversize"  # a message (or a TCP header block) over gb28181.max_message_bytes
    BAD_XML = "gb28181_bad_xml"  # a MANSCDP body that does not parse (encoding, syntax, a DOCTYPE, no CmdType)
    BAD_BODY = "gb28181_bad_body"  # parsed XML without what its command needs (SN, DeviceID, a number)
    UNKNOWN_COMMAND = "gb28181_unknown_command"  # a MANSCDP command this platform does not take
    UNKNOWN_METHOD = "gb28181_unknown_method"  # a SIP method other than REGISTER, MESSAGE (and ACK/BYE/OPTIONS)
    UNKNOWN_DEVICE = "gb28181_unknown_device"  # a SIP user the registry does not hold (or not a GB/T 28181 kind)
    DEVICE_DISABLED = "gb28181_device_disabled"
    AUTH_FAILED = "gb28181_auth_failed"  # a Digest response that does not match the device's password
    UNREGISTERED = "gb28181_unregistered"  # a MESSAGE from a device with no live registration
    SCHEMA = "gb28181_schema"  # decoded, but outside the device profile
    CLOCK_FUTURE = "gb28181_clock_future"  # an AlarmTime too far ahead of the gateway's clock
    CATALOG_INCOMPLETE = "gb28181_catalog_incomplete"  # fewer items than SumNum before the catalog timeout


class Gb28181Error(Exception):
    """A message or body that cannot be used; `reason` is what its dead letter says."""

    def __init__(self, reason: Reason, detail: str, message: object = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.message = message  # the SIP message as far as it was read (its headers let a 400 be answered)
