"""A synthetic street seen by a fixed camera, rendered with numpy/OpenCV, with scripted incidents.

The still scene (sky, buildings with windows and shop signs, a pavement, a road with lane
marks) is drawn once per camera from its seed; every snapshot adds what is happening now:
a stall left in a region (``object_left``), a hand over the lens (``covered``), the camera
turned on its mount (``turned``), the lens out of focus (``defocus``), a change of light
(``light``), and a car driving past now and then (motion that must not become an event).
Sensor noise is added per frame, so no two snapshots are identical.

Incidents are scripted with a start and an optional end in seconds of the scene's clock
(`Scene.clock`, wall time by default), so a test or a scenario decides what a camera shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

INCIDENTS = ("object_left", "covered", "turned", "defocus", "light")
# A stall region on the pavement, as fractions of the image (x, y): scaled to the image size.
DEFAULT_STALL_ROI = ((0.14, 0.60), (0.44, 0.60), (0.44, 0.78), (0.14, 0.78))


@dataclass(slots=True)
class Incident:
    kind: str
    start: float
    end: float | None = None
    roi: Sequence[Sequence[float]] | None = None  # object_left: polygon in pixels; default: the stall ROI
    value: float = 1.0  # light: the gain (0.7 = 30 % darker)

    def active(self, t: float) -> bool:
        return self.start <= t and (self.end is None or t < self.end)


@dataclass
class Scene:
    seed: int = 0
    width: int = 1280
    height: int = 720
    quality: int = 85
    noise_sigma: float = 2.0
    car_every_s: float = 0.0  # 0: no passing traffic
    clock: Callable[[], float] = time.time
    incidents: list[Incident] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._base = render_street(self.seed, self.width, self.height)
        self._rng = np.random.default_rng(self.seed + 1)

    def stall_roi(self) -> list[list[int]]:
        return [[round(x * self.width), round(y * self.height)] for x, y in DEFAULT_STALL_ROI]

    def add(self, kind: str, *, start: float | None = None, duration_s: float | None = None,
            roi: Sequence[Sequence[float]] | None = None, value: float = 1.0) -> Incident:
        """Script an incident from `start` (default: now) for `duration_s` (default: until cleared)."""
        if kind not in INCIDENTS:
            raise ValueError(f"unknown incident {kind!r}; one of {INCIDENTS}")
        begin = self.clock() if start is None else start
        incident = Incident(kind, begin, None if duration_s is None else begin + duration_s, roi, value)
        self.incidents.append(incident)
        return incident

    def clear(self, kind: str | None = None) -> None:
        now = self.clock()
        for incident in self.incidents:
            if (kind is None or incident.kind == kind) and incident.active(now):
                incident.end = now

    def active(self, t: float | None = None) -> list[Incident]:
        t = self.clock() if t is None else t
        return [i for i in self.incidents if i.active(t)]

    def frame(self, t: float | None = None) -> np.ndarray:
        """The BGR image the camera sees at time `t`."""
        t = self.clock() if t is None else t
        img = self._base.copy()
        active = self.active(t)
        for incident in active:
            if incident.kind == "object_left":
                draw_stall(img, incident.roi or self.stall_roi(), self.seed)
        if self.car_every_s > 0:
            phase = (t % self.car_every_s) / 4.0  # a car takes 4 s to cross
            if phase < 1.0:
                draw_car(img, phase)
        kinds = {i.kind: i for i in active}
        if "light" in kinds:
            img = cv2.convertScaleAbs(img, alpha=kinds["light"].value, beta=0)
        if "turned" in kinds:
            # Panned by a fifth of the width and tilted a little: what a knocked camera shows.
            m = cv2.getRotationMatrix2D((self.width / 2, self.height / 2), 4.0, 1.0)
            m[0, 2] += self.width * 0.2
            img = cv2.warpAffine(img, m, (self.width, self.height), borderMode=cv2.BORDER_REFLECT)
        if "defocus" in kinds:
            img = cv2.GaussianBlur(img, (0, 0), sigmaX=max(self.width, self.height) / 160)
        if "covered" in kinds:
            img = np.full_like(img, 14)  # a palm on the lens: almost black, almost flat
        noise = self._rng.normal(0.0, self.noise_sigma, img.shape[:2]).astype(np.int16)
        return cv2.add(img, cv2.merge([noise, noise, noise]), dtype=cv2.CV_8U) if self.noise_sigma else img

    def jpeg(self, t: float | None = None) -> bytes:
        ok, buf = cv2.imencode(".jpg", self.frame(t), [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:  # pragma: no cover - OpenCV always encodes a uint8 image
            raise RuntimeError("JPEG encoding failed")
        return buf.tobytes()


def render_street(seed: int, width: int, height: int) -> np.ndarray:
    """The still scene: deterministic for a seed and size."""
    rng = np.random.default_rng(seed)
    img = np.zeros((height, width, 3), np.uint8)
    horizon, kerb = int(height * 0.45), int(height * 0.80)
    # sky: a vertical gradient
    sky = np.linspace(235, 170, horizon, dtype=np.float32)
    img[:horizon] = np.stack([sky, sky * 0.92, sky * 0.78], axis=1)[:, None, :].astype(np.uint8)
    # buildings along the street with windows and shop signs (texture for feature matching)
    x = 0
    while x < width:
        w = int(rng.integers(width // 10, width // 5))
        top = int(rng.integers(int(height * 0.08), int(height * 0.3)))
        colour = tuple(int(c) for c in rng.integers(70, 200, 3))
        cv2.rectangle(img, (x, top), (x + w, int(height * 0.6)), colour, -1)
        for wy in range(top + 12, int(height * 0.5), max(8, height // 24)):
            for wx in range(x + 8, x + w - 16, max(10, width // 48)):
                shade = int(rng.integers(30, 240))
                cv2.rectangle(img, (wx, wy), (wx + max(4, width // 110), wy + max(5, height // 60)),
                              (shade, shade, int(shade * 0.9)), -1)
        sign = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(img, (x + 6, int(height * 0.5)), (x + w - 6, int(height * 0.55)), sign, -1)
        cv2.putText(img, f"{int(rng.integers(10, 99))}", (x + 12, int(height * 0.545)), cv2.FONT_HERSHEY_SIMPLEX,
                    height / 900, (255 - sign[0], 255 - sign[1], 255 - sign[2]), 2)
        x += w
    # pavement (paving slabs) and road (asphalt, lane marks)
    img[int(height * 0.6):kerb] = (150, 155, 160)
    for py in range(int(height * 0.6), kerb, max(6, height // 40)):
        cv2.line(img, (0, py), (width, py), (128, 132, 138), 1)
    for px in range(0, width, max(10, width // 30)):
        cv2.line(img, (px, int(height * 0.6)), (px, kerb), (128, 132, 138), 1)
    img[kerb:] = (72, 72, 76)
    cv2.line(img, (0, kerb), (width, kerb), (210, 210, 210), max(2, height // 180))
    lane = int(height * 0.90)
    for lx in range(0, width, width // 8):
        cv2.rectangle(img, (lx, lane), (lx + width // 16, lane + max(2, height // 120)), (230, 230, 230), -1)
    return img


def draw_stall(img: np.ndarray, roi: Sequence[Sequence[float]], seed: int) -> None:
    """A street stall: a cart with a striped awning and goods, filling most of the region."""
    pts = np.asarray(roi, np.float32)
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    w, h = x1 - x0, y1 - y0
    bx0, by0, bx1, by1 = int(x0 + w * 0.08), int(y0 + h * 0.1), int(x1 - w * 0.08), int(y1 - h * 0.05)
    cv2.rectangle(img, (bx0, by0 + (by1 - by0) // 3), (bx1, by1), (40, 90, 170), -1)
    stripes = 8
    for k in range(stripes):
        sx0 = bx0 + (bx1 - bx0) * k // stripes
        colour = (30, 30, 210) if k % 2 else (235, 235, 235)
        cv2.rectangle(img, (sx0, by0), (bx0 + (bx1 - bx0) * (k + 1) // stripes, by0 + (by1 - by0) // 3), colour, -1)
    rng = np.random.default_rng(seed + 7)
    for _ in range(12):  # goods on the counter
        cx = int(rng.integers(bx0 + 5, max(bx0 + 6, bx1 - 5)))
        cy = int(rng.integers(by0 + (by1 - by0) // 2, max(by0 + (by1 - by0) // 2 + 1, by1 - 5)))
        cv2.circle(img, (cx, cy), max(3, int(h / 14)), tuple(int(c) for c in rng.integers(0, 255, 3)), -1)


def draw_car(img: np.ndarray, phase: float) -> None:
    """A car on the road, `phase` 0 → 1 from left to right."""
    height, width = img.shape[:2]
    cw, ch = width // 6, height // 9
    x = int(-cw + phase * (width + cw))
    y = int(height * 0.84)
    cv2.rectangle(img, (x, y), (x + cw, y + ch), (20, 20, 150), -1)
    cv2.rectangle(img, (x + cw // 5, y - ch // 2), (x + cw * 4 // 5, y), (30, 30, 120), -1)
