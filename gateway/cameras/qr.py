"""QR labels in a camera's snapshots, read again only where the picture changed since the last read.

Reading QR codes is the costliest step of a snapshot's analysis (20–30 ms on a 1280×720
frame, every ``qr_every``th snapshot), and the labels a fixed camera sees (on street
furniture) do not move. So each read keeps where it found each label, and the next read
compares a small change map of the frame (the normalised frame at 160 px wide) with the
previous read's: where nothing changed, the labels found there are still there; only the
changed areas (grown by a margin, so a label partly inside one is read whole) are read
again, at full size. When more than ``FULL_READ_SHARE`` of the picture changed, or it is
the first read, the whole frame is read. A label covered by a passing truck is not reported
while covered (its area changed, and reading it finds nothing); a new label is read as soon
as its area changes, which is when it appears.

Same detector as `civicgrid.labels.read_qr_codes` (`cv2.QRCodeDetectorAruco`), with the
positions kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

CHANGE_LEVEL = 25  # grey levels (of 255, normalised frames) a change-map pixel must move to count as changed
FULL_READ_SHARE = 0.4  # above this share of changed change-map pixels, the whole frame is read
MAX_AREAS = 8  # more separate changed areas than this: the whole frame
MARGIN = 48  # full-size pixels around a changed area

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in full-size pixels


@dataclass(slots=True)
class _Read:
    change_map: np.ndarray
    labels: list[tuple[str, Box]]


def read_labels(grey: np.ndarray, x0: int = 0, y0: int = 0) -> list[tuple[str, Box]]:
    """QR texts in a grey image and their boxes, offset by (x0, y0)."""
    ok, texts, points, _ = cv2.QRCodeDetectorAruco().detectAndDecodeMulti(grey)
    if not ok or texts is None:
        return []
    out = []
    for text, corners in zip(texts, points, strict=False):
        if text:
            xs, ys = corners[:, 0], corners[:, 1]
            out.append((text, (x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1,
                               y0 + int(ys.max()) + 1)))
    return out


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _merged(boxes: list[Box]) -> list[Box]:
    """Overlapping boxes joined until none overlap."""
    boxes = list(boxes)
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                if _overlaps(boxes[i], boxes[j]):
                    a, b = boxes[i], boxes.pop(j)
                    boxes[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    merged = True
                    break
            if merged:
                break
    return boxes


class LabelWatch:
    """One camera's QR labels between reads."""

    def __init__(self) -> None:
        self._last: _Read | None = None
        self.full_reads = 0  # reads of the whole frame, and of changed areas only (the benchmark reports them)
        self.area_reads = 0

    def read(self, change_map: np.ndarray, full_grey: Callable[[], np.ndarray]) -> list[str]:
        """The texts of the labels in view; `change_map`: the normalised frame, small (e.g. 160 px wide);
        `full_grey`: the frame at full size, asked for only when something has to be read."""
        last = self._last
        if last is None or last.change_map.shape != change_map.shape:
            labels = self._read_whole(full_grey())
        else:
            changed = cv2.dilate((cv2.absdiff(change_map, last.change_map) > CHANGE_LEVEL).astype(np.uint8),
                                 np.ones((3, 3), np.uint8))
            share = cv2.countNonZero(changed) / changed.size
            if share == 0:
                labels = last.labels
            elif share > FULL_READ_SHARE:
                labels = self._read_whole(full_grey())
            else:
                grey = full_grey()
                scale = grey.shape[1] / change_map.shape[1]
                contours, _ = cv2.findContours(changed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
                areas = []
                for contour in contours:
                    x, y, w, h = cv2.boundingRect(contour)
                    areas.append((max(0, int(x * scale) - MARGIN), max(0, int(y * scale) - MARGIN),
                                  min(grey.shape[1], int((x + w) * scale) + MARGIN),
                                  min(grey.shape[0], int((y + h) * scale) + MARGIN)))
                areas = _merged(areas)
                if len(areas) > MAX_AREAS:
                    labels = self._read_whole(grey)
                else:
                    self.area_reads += 1
                    labels = [label for label in last.labels if not any(_overlaps(label[1], a) for a in areas)]
                    for x0, y0, x1, y1 in areas:
                        labels += read_labels(grey[y0:y1, x0:x1], x0, y0)
        self._last = _Read(change_map, labels)
        return list(dict.fromkeys(text for text, _ in labels))

    def _read_whole(self, grey: np.ndarray) -> list[tuple[str, Box]]:
        self.full_reads += 1
        return read_labels(grey)
