"""Pairing an inspector's handheld web app (城管通, docs/handheld.md): its device id, the pairing link, its QR code.

A paired phone is an ordinary registered device of kind ``handheld`` linked to its inspector, with its own MQTT
secret, not a side door: it speaks the handheld profile over MQTT (WebSockets) and uploads photos with HTTP Basic
like the simulated handheld. The supervisor's console shows the pairing link as a QR code; the phone's camera
opens it, and the app takes its credentials from the link's fragment (``#pair=``), which browsers never send
to a server, so the secret is not in any access log. The secret is shown once: pairing again issues a new
device (a new phone), and the old one is disabled in the devices page when the phone is lost.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass

import cv2
import orjson

PAIRING_VERSION = 1
DEVICE_PREFIX = "hh"


def handheld_device_id(inspector_user_id: int) -> str:
    """A new handheld's id: the inspector's user id and a random tail (each paired phone is its own device)."""
    return f"{DEVICE_PREFIX}-{inspector_user_id}-{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class Pairing:
    """What the phone needs, all of it in the link: its device id and secret, the MQTT endpoint (None: the app's
    own host on `ws_port`), and whom it belongs to (shown on the phone)."""

    device_id: str
    secret: str
    inspector: str
    mqtt_url: str | None
    ws_port: int

    def payload(self) -> dict[str, object]:
        return {"v": PAIRING_VERSION, "device_id": self.device_id, "secret": self.secret,
                "inspector": self.inspector, "mqtt_url": self.mqtt_url, "ws_port": self.ws_port}

    def link(self, app_url: str) -> str:
        """The app's URL with the payload in its fragment (base64url JSON, no padding)."""
        encoded = base64.urlsafe_b64encode(orjson.dumps(self.payload())).rstrip(b"=").decode()
        return f"{app_url}#pair={encoded}"


def read_link(link: str) -> dict[str, object]:
    """The payload of a pairing link (the app's reading of it, in Python for the tests). Raises ValueError."""
    _, sep, fragment = link.partition("#pair=")
    if not sep:
        raise ValueError("not a pairing link (no #pair= fragment)")
    try:
        data = orjson.loads(base64.urlsafe_b64decode(fragment + "=" * (-len(fragment) % 4)))
    except (binascii.Error, orjson.JSONDecodeError) as exc:
        raise ValueError(f"unreadable pairing payload: {exc}") from None
    if not isinstance(data, dict) or data.get("v") != PAIRING_VERSION:
        raise ValueError("unknown pairing payload version")
    return data


def qr_svg(text: str, module_px: int = 4) -> str:
    """`text` as a QR code in SVG (OpenCV's encoder, already a dependency for reading labels): one path of dark
    modules, crisp at any zoom, with the encoder's quiet zone; no image file, no JavaScript QR library."""
    matrix = cv2.QRCodeEncoder.create().encode(text)
    if matrix is None or matrix.size == 0:
        raise ValueError("text too long for a QR code")
    rows, cols = matrix.shape[:2]
    dark = [f"M{x},{y}h1v1h-1z" for y in range(rows) for x in range(cols) if matrix[y, x] < 128]
    w, h = cols * module_px, rows * module_px
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {cols} {rows}" '
            f'shape-rendering="crispEdges" role="img"><rect width="{cols}" height="{rows}" fill="#fff"/>'
            f'<path fill="#000" d="{"".join(dark)}"/></svg>')
