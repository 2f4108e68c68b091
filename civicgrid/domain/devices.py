"""Device identity rules shared by the registry, the broker ACLs and the gateway."""

from __future__ import annotations

import re

# The device id is the MQTT username and a topic level (cg/{device_id}/...), so it
# must never contain MQTT wildcards (+ #), the level separator (/) or '$'.
DEVICE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class InvalidDeviceId(ValueError):
    """A device id that cannot be used as an MQTT username and topic level."""


def validate_device_id(device_id: str) -> str:
    """Return the id unchanged, or raise `InvalidDeviceId` saying what is allowed."""
    if not DEVICE_ID_RE.fullmatch(device_id):
        raise InvalidDeviceId(
            f"invalid device id {device_id!r}: use 1-64 characters from A-Z a-z 0-9 _ . -, "
            "starting with a letter or digit"
        )
    return device_id
