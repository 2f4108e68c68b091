"""Photos as a handheld takes them, for tests: JPEG bytes, optionally with a component's QR label in view."""

from __future__ import annotations

import cv2
import numpy as np

from simulators.photos import qr_sticker


def label_photo(width: int, height: int, label: str | None, qr_side: int = 0, *, noise: bool = True) -> bytes:
    """A street-coloured photo (noisy, or a smooth gradient that compresses small) with the label's QR code
    somewhere off-centre."""
    if noise:
        image = np.random.default_rng(7).integers(60, 140, (height, width, 3), dtype=np.uint8)
    else:
        ramp = np.linspace(70, 150, width, dtype=np.uint8)
        image = np.repeat(np.repeat(ramp[None, :, None], height, axis=0), 3, axis=2)
    if label is not None:
        y, x = height // 3, width // 2
        image[y:y + qr_side, x:x + qr_side] = qr_sticker(label, qr_side)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return jpeg.tobytes()
