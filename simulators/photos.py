"""Photos a handheld attaches to its reports: a JPEG drawn per report, uploaded to the API over HTTP.

docs/architecture.md: photos travel by HTTP upload to the API (`POST /media`), referenced by id in
the MQTT report. A handheld authenticates with HTTP Basic (its device id and MQTT
secret); the id is the SHA-256 of the bytes, so the report can name it before the
upload answers, and a repeated upload is harmless.
"""

from __future__ import annotations

import random

import cv2
import httpx
import numpy as np

from civicgrid.store import media

LABEL_PREFIX = "CG:"  # a component label's QR text: CG:<16-digit id> (civicgrid/labels.py)


def qr_sticker(text: str, side: int) -> np.ndarray:
    """A component's QR label as a BGR square of `side` pixels, with the sticker's white margin."""
    code = cv2.QRCodeEncoder.create().encode(text)
    code = cv2.copyMakeBorder(code, 4, 4, 4, 4, cv2.BORDER_CONSTANT, value=255)
    return cv2.cvtColor(cv2.resize(code, (side, side), interpolation=cv2.INTER_NEAREST), cv2.COLOR_GRAY2BGR)


def render_photo(report_id: str, category: str, rng: random.Random, size: tuple[int, int] = (640, 480),
                 label: str | None = None) -> bytes:
    """A distinct JPEG per report: a street-ish scene with a few blobs and the report's id stamped on it;
    with `label`, the component's QR label in view, as an inspector photographs a damaged bin's sticker."""
    w, h = size
    img = np.empty((h, w, 3), np.uint8)
    img[: h // 2] = (200, 170, 140)  # sky-ish / facade
    img[h // 2:] = (90, 90, 95)  # road
    for _ in range(rng.randint(3, 7)):
        colour = tuple(rng.randint(20, 235) for _ in range(3))
        centre = (rng.randint(0, w - 1), rng.randint(h // 3, h - 1))
        cv2.ellipse(img, centre, (rng.randint(15, 80), rng.randint(10, 50)), rng.uniform(0, 180), 0, 360,
                    colour, -1)
    if label is not None:
        side = rng.randint(120, 170)
        x, y = rng.randint(0, w - side), rng.randint(0, h - side - 40)
        img[y:y + side, x:x + side] = qr_sticker(label, side)
    cv2.putText(img, f"{report_id} {category}", (12, h - 16), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
    ok, jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:  # pragma: no cover - OpenCV always encodes an 8-bit BGR image
        raise RuntimeError("JPEG encoding failed")
    return jpeg.tobytes()


def photo_id(jpeg: bytes) -> str:
    """The id the API gives the upload (its SHA-256, civicgrid/store/media.py)."""
    return media.media_id(jpeg)


async def upload_photo(client: httpx.AsyncClient, api_url: str, device_id: str, secret: str, jpeg: bytes) -> str:
    """Upload as the handheld; return the media id. Raises httpx.HTTPError with the API's answer on refusal."""
    response = await client.post(f"{api_url.rstrip('/')}/media", auth=(device_id, secret),
                                 files={"file": ("photo.jpg", jpeg, "image/jpeg")}, timeout=30)
    if response.status_code != 201:
        raise httpx.HTTPStatusError(f"upload refused: {response.status_code} {response.text[:200]}",
                                    request=response.request, response=response)
    media_id = response.json()["id"]
    if media_id != photo_id(jpeg):
        raise httpx.HTTPError(f"the API named the photo {media_id}, not its SHA-256")
    return media_id
