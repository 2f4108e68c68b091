"""Component labels (QR codes) read from images: camera snapshots and handheld photos.

City components carry a QR label naming their 16-digit id (`CG:3415230101000001`,
a bare id, or a URL ending in one). An inspector photographing a broken cover's
label links the report to that component without typing the id; the camera poller
reads labels in snapshots the same way. Reading is OpenCV; which ids a label's
text names is a domain rule (`civicgrid.domain.components.component_ids_in_label`).
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

# Pillow only reads headers here (sizes); nothing is decoded with it. Its own bomb check would hide a
# bomb's size behind an error: the caller applies its own pixel cap to the size instead (api.max_photo_pixels).
Image.MAX_IMAGE_PIXELS = None

PHOTO_MAX_SIDE = 2000  # larger photos are scaled down first: a 12 MP photo reads in a fraction of the time


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from an image's header alone, nothing decoded; ValueError if no header says so.

    Checked before any decoding: a 100 KB PNG can declare 30,000 × 30,000 pixels (gigabytes decoded).
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (OSError, SyntaxError) as exc:  # PIL.UnidentifiedImageError is an OSError
        raise ValueError(f"no readable image header: {exc}") from None


def decode_image(data: bytes) -> np.ndarray:
    """A JPEG/PNG/WebP as a BGR array; ValueError if OpenCV cannot decode it (its own errors included)."""
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ValueError(f"not a decodable image: {exc}") from None
    if image is None:
        raise ValueError("not a decodable image")
    return image


def read_qr_codes(image: np.ndarray, *, thorough: bool = False) -> list[str]:
    """Texts of the QR codes in an image (a snapshot or a handheld photo); empty if none.

    The ArUco-based detector first (about 30 ms on an empty 1280×720 frame here, against
    about 120 ms for the classic one); `thorough` tries the classic detector as well.
    """
    ok, texts, _, _ = cv2.QRCodeDetectorAruco().detectAndDecodeMulti(image)
    found = [t for t in texts if t] if ok and texts is not None else []
    if not found and thorough:
        text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
        found = [text] if text else []
    return found


def photo_labels(data: bytes) -> list[str]:
    """QR texts in an uploaded photo, thoroughly (a photo is read once, not every few seconds)."""
    image = decode_image(data)
    side = max(image.shape[:2])
    if side > PHOTO_MAX_SIDE:
        scale = PHOTO_MAX_SIDE / side
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return list(dict.fromkeys(read_qr_codes(image, thorough=True)))
