"""The handheld pairing link and its QR code (civicgrid/handheld.py): what the phone reads back is what was issued;
and the one origin the console's Content-Security-Policy opens for the app's MQTT WebSocket."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from api.security_headers import content_security_policy, handheld_mqtt_sources
from civicgrid.domain.devices import validate_device_id
from civicgrid.handheld import Pairing, handheld_device_id, qr_svg, read_link

PAIRING = Pairing("hh-42-a1b2c3", "s3cr3t-_with-url-chars", "张伟", None, 18885)


def test_the_link_carries_the_credentials_in_its_fragment() -> None:
    link = PAIRING.link("https://city.example/handheld/")
    assert link.startswith("https://city.example/handheld/#pair=")
    assert "s3cr3t" not in link.partition("#")[0]  # never in the part a server or proxy sees
    assert read_link(link) == {"v": 1, "device_id": "hh-42-a1b2c3", "secret": "s3cr3t-_with-url-chars",
                               "inspector": "张伟", "mqtt_url": None, "ws_port": 18885}


@pytest.mark.parametrize("link", ["https://x/handheld/", "https://x/handheld/#pair=@@@", "https://x/#pair=e30"])
def test_a_bad_link_is_refused_in_words(link: str) -> None:
    with pytest.raises(ValueError):
        read_link(link)


def test_each_pairing_is_a_new_valid_device_id() -> None:
    ids = {handheld_device_id(7) for _ in range(20)}
    assert len(ids) == 20
    for device_id in ids:
        validate_device_id(device_id)
        assert device_id.startswith("hh-7-")


def test_the_qr_code_svg_decodes_to_the_link() -> None:
    link = PAIRING.link("http://127.0.0.1:8000/handheld/")
    svg = qr_svg(link)
    size = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    assert size is not None
    cols, rows = int(size[1]), int(size[2])
    matrix = np.full((rows, cols), 255, np.uint8)
    for x, y in re.findall(r"M(\d+),(\d+)h1v1h-1z", svg):
        matrix[int(y), int(x)] = 0
    image = cv2.resize(matrix, (cols * 8, rows * 8), interpolation=cv2.INTER_NEAREST)
    decoded, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert decoded == link


def test_the_policy_lets_the_app_reach_its_mqtt_websocket_and_nothing_else() -> None:
    configured = content_security_policy([], None, handheld_mqtt_sources("wss://mqtt.city.example:8884/", 18885))
    connect = next(d for d in configured.split("; ") if d.startswith("connect-src"))
    assert connect == "connect-src 'self' wss://mqtt.city.example:8884"
    default = content_security_policy([], None, handheld_mqtt_sources(None, 18885))
    assert "connect-src 'self' ws://*:18885 wss://*:18885;" in default
