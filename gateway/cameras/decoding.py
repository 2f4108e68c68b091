"""Snapshot decoding for the analysis: the size from the JPEG header, and grey at libjpeg's reduced scales.

A 1280×720 snapshot is analysed at 640×360, and libjpeg can decode it straight to that size
by scaling in the DCT domain (`cv2.IMREAD_REDUCED_GRAYSCALE_2`): most of the inverse
transform and the colour conversion are never done (1.4 ms against 2.7 ms for a full colour
decode here, bench/cameras.py ``stage_ms``). The header is read first for the scale to pick,
and to refuse a snapshot declaring more pixels than `MAX_SNAPSHOT_PIXELS` before any decoding.
"""

from __future__ import annotations

import cv2
import numpy as np

from civicgrid.labels import image_size

ANALYSIS_WIDTH = 640  # frames are analysed at this width (1280×720 → 640×360): 4× less work
# Snapshots declaring more pixels than this are refused before decoding (a 60 KB JPEG can declare
# 65,535 × 65,535 pixels); 8K is 33 MP.
MAX_SNAPSHOT_PIXELS = 40_000_000
_SCALED_GREY = {1: cv2.IMREAD_GRAYSCALE, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
                8: cv2.IMREAD_REDUCED_GRAYSCALE_8}
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # frame headers (not DHT, JPG, DAC)


def decode_jpeg(jpeg: bytes) -> np.ndarray:
    """In colour at full size: for re-encoding a snapshot too large for Kafka (poller.shrink_jpeg)."""
    frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if frame is None:
        raise ValueError("not a decodable image")
    return frame


def jpeg_size(jpeg: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's frame header, nothing decoded; None if it is not a JPEG with one."""
    if jpeg[:2] != b"\xff\xd8":
        return None
    i, n = 2, len(jpeg)
    while i + 4 <= n:
        if jpeg[i] != 0xFF:
            return None
        marker = jpeg[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
            continue
        if marker in _SOF_MARKERS:
            if i + 9 > n:
                return None
            height, width = int.from_bytes(jpeg[i + 5:i + 7], "big"), int.from_bytes(jpeg[i + 7:i + 9], "big")
            return (width, height) if width and height else None
        length = int.from_bytes(jpeg[i + 2:i + 4], "big")
        if marker == 0xDA or length < 2:  # a scan before any frame header
            return None
        i += 2 + length
    return None


def decode_grey(jpeg: bytes, *, full: bool = False) -> tuple[np.ndarray, int]:
    """The snapshot in grey and its full width: a JPEG at the smallest libjpeg DCT scale (½, ¼, ⅛) that is
    still `ANALYSIS_WIDTH` wide, so most of the inverse transform is never done; `full`: every pixel."""
    size = jpeg_size(jpeg)
    if size is None:  # not a JPEG: whatever OpenCV reads, at full size
        try:
            size = image_size(jpeg)
        except ValueError:
            raise ValueError("not a decodable image") from None
    width, height = size
    if width * height > MAX_SNAPSHOT_PIXELS:
        raise ValueError(f"snapshot of {width}×{height} pixels, over {MAX_SNAPSHOT_PIXELS}")
    factor = 1
    while not full and factor < 8 and width // (factor * 2) >= ANALYSIS_WIDTH:
        factor *= 2
    try:
        grey = cv2.imdecode(np.frombuffer(jpeg, np.uint8), _SCALED_GREY[factor])
    except cv2.error as exc:
        raise ValueError(f"not a decodable image: {exc}") from None
    if grey is None:
        raise ValueError("not a decodable image")
    return grey, width
