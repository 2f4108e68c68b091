"""Capture and file (视频抓拍): the snapshot an operator files from the video wall, with the region they drew
marked on a copy, so whoever opens the case's evidence sees what was meant without the console's overlay.

The original snapshot stays evidence too (unchanged bytes, the camera's record); the marked copy is drawn with
OpenCV. A snapshot is a camera's JPEG, checked by its header's size before it is decoded.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from civicgrid.labels import decode_image, image_size

MAX_PIXELS = 40_000_000  # a camera's frame is at most 4K (8.3 MP); anything far larger is not a snapshot
RED = (40, 40, 230)  # BGR


class BadRegion(ValueError):
    """A region that is not a polygon inside the snapshot."""


def check_region(region: Sequence[Sequence[int]], width: int, height: int) -> None:
    """At least three distinct points, every one inside the width × height image."""
    if len({(int(x), int(y)) for x, y in region}) < 3:
        raise BadRegion("a region needs at least 3 distinct points")
    outside = [(x, y) for x, y in region if not (0 <= x <= width and 0 <= y <= height)]
    if outside:
        raise BadRegion(f"point {outside[0]} is outside the {width}×{height} snapshot")


def snapshot_size(jpeg: bytes) -> tuple[int, int]:
    """(width, height) from the header; ValueError when unreadable or too large to be a snapshot."""
    width, height = image_size(jpeg)
    if width * height > MAX_PIXELS:
        raise ValueError(f"{width}×{height} is too large for a camera snapshot")
    return width, height


def mark_region(jpeg: bytes, region: Sequence[Sequence[int]]) -> bytes:
    """A JPEG copy of the snapshot with the region outlined (and lightly filled) in red."""
    image = decode_image(jpeg)
    points = np.array([[int(x), int(y)] for x, y in region], np.int32).reshape(-1, 1, 2)
    overlay = image.copy()
    cv2.fillPoly(overlay, [points], RED)
    image = cv2.addWeighted(overlay, 0.2, image, 0.8, 0)
    thickness = max(2, round(max(image.shape[:2]) / 300))
    cv2.polylines(image, [points], True, RED, thickness, cv2.LINE_AA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:  # pragma: no cover - OpenCV encodes any BGR array it decoded
        raise ValueError("could not encode the marked snapshot")
    return encoded.tobytes()
