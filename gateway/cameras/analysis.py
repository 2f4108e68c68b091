"""Classical frame analysis of camera snapshots (OpenCV): tamper, per-region occupancy, QR codes.

No model weights can be fetched here, so every detector is a classical method:

- **covered** lens: the frame is flat (grey-level standard deviation under ``covered_std``);
- **defocus**: the variance of the Laplacian falls under ``defocus_ratio`` × the reference's;
- **moved**: ORB features of the frame matched against the reference frame; a RANSAC
  similarity transform that shifts more than ``moved_shift`` of the width or turns more than
  ``moved_deg``, or too few inliers to find one, means the camera was turned;
- **occupancy** per region of interest: a MOG2 background model per region crop; a region
  whose polygon is more than ``occupied_fraction`` foreground for ``dwell_s`` raises one
  event (and one clear when it empties).  While a region is occupied its model stops
  learning, so a stall that stays is not absorbed into the background and its leaving is
  not mistaken for a new object;
- **QR codes** (component labels) with ``civicgrid.labels.read_qr_codes``.

Lighting: each frame is scaled to a mean grey of 128 before the background models and the
sharpness measure see it, so a global change of light does not look like an object.  Stated
tolerance (tests/unit/gateway/test_camera_analysis.py): a global gain between 0.6 and 1.5
raises nothing.  A tamper condition must hold for ``confirm_frames`` frames in a row, and so
must its end; while a camera is tampered its regions are not analysed.

Pure: frames and times in, `Detection`s out; no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from civicgrid.labels import read_qr_codes

ANALYSIS_WIDTH = 640  # frames are analysed at this width (1280×720 → 640×360): 4× less work


@dataclass(frozen=True, slots=True)
class Roi:
    id: str
    name: str
    event_code: str
    polygon: tuple[tuple[int, int], ...]  # image pixels of the camera's full-size snapshot
    dwell_s: float


@dataclass(frozen=True, slots=True)
class Detection:
    """What one frame (or one ONVIF event) showed. `kind` is a detection-history kind."""

    kind: str  # occupancy | tamper_covered | tamper_defocus | tamper_moved | qr | motion
    cleared: bool = False
    roi_id: str | None = None
    event_code: str | None = None
    score: float | None = None
    occupied_s: float | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class AnalysisConfig:
    covered_std: float = 10.0
    defocus_ratio: float = 0.35
    moved_shift: float = 0.04
    moved_deg: float = 2.5
    moved_min_inliers: int = 12
    occupied_fraction: float = 0.25
    mog2_var_threshold: float = 36.0
    learning_rate: float = 0.005
    warmup_frames: int = 3
    confirm_frames: int = 2
    qr_every: int = 6  # read QR codes on every Nth frame (0: never); the costliest step by far


@dataclass(slots=True)
class _RegionState:
    roi: Roi
    rect: tuple[int, int, int, int]
    mask: np.ndarray
    model: cv2.BackgroundSubtractorMOG2
    frames: int = 0
    since: float | None = None
    misses: int = 0
    raised: bool = False


@dataclass(slots=True)
class _Reference:
    gray: np.ndarray
    sharpness: float
    keypoints: Sequence
    descriptors: np.ndarray | None


@dataclass(slots=True)
class _Flag:
    """A condition that must hold (or stop holding) for N frames before it counts."""

    on: bool = False
    streak: int = 0

    def update(self, condition: bool, needed: int) -> bool | None:
        """True when it turns on, False when it turns off, None otherwise."""
        self.streak = self.streak + 1 if condition != self.on else 0
        if self.streak >= needed:
            self.on, self.streak = condition, 0
            return condition
        return None


def normalise(gray: np.ndarray) -> np.ndarray:
    """Scale a grey frame to a mean of 128: a global change of light disappears."""
    mean = float(gray.mean())
    return cv2.convertScaleAbs(gray, alpha=128.0 / max(mean, 1.0))


def sharpness(gray: np.ndarray) -> float:
    return float(cv2.Laplacian(gray, cv2.CV_32F).var())


def decode_jpeg(jpeg: bytes) -> np.ndarray:
    frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if frame is None:
        raise ValueError("not a decodable image")
    return frame


class FrameAnalyzer:
    """One camera's analysis state: its reference frame, tamper flags and region models."""

    def __init__(self, rois: Sequence[Roi], config: AnalysisConfig | None = None) -> None:
        self.config = config or AnalysisConfig()
        self.rois = list(rois)
        self._orb = cv2.ORB_create(nfeatures=500)
        self._matcher = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
        self._reference: _Reference | None = None
        self._regions: list[_RegionState] = []
        self._scale = 1.0
        self._flags = {"tamper_covered": _Flag(), "tamper_defocus": _Flag(), "tamper_moved": _Flag()}
        self._qr_seen: dict[str, float] = {}
        self._frames = 0
        self.last: dict[str, float] = {}  # brightness, sharpness of the latest frame (health telemetry)

    @property
    def tampered(self) -> bool:
        return any(f.on for f in self._flags.values())

    def reset_reference(self) -> None:
        """Take the next good frame as the reference (after an operator re-aimed the camera)."""
        self._reference = None

    def analyse(self, frame: np.ndarray, now: float) -> list[Detection]:
        """Everything the frame shows that is new: raised or cleared conditions."""
        cfg = self.config
        full_gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        self._scale = ANALYSIS_WIDTH / full_gray.shape[1] if full_gray.shape[1] > ANALYSIS_WIDTH else 1.0
        gray = (cv2.resize(full_gray, None, fx=self._scale, fy=self._scale, interpolation=cv2.INTER_AREA)
                if self._scale != 1.0 else full_gray)
        if not self._regions and self.rois:
            self._regions = [self._region(r, gray.shape) for r in self.rois]
        brightness, spread = float(gray.mean()), float(gray.std())
        norm = normalise(gray)
        sharp = sharpness(norm)
        self.last = {"brightness": brightness, "sharpness": sharp}
        out: list[Detection] = []

        covered = spread < cfg.covered_std
        defocused = moved = False
        score_moved = 0.0
        if not covered and self._reference is not None:
            defocused = sharp < cfg.defocus_ratio * self._reference.sharpness
            if not defocused:
                moved, score_moved = self._moved(norm)
        for kind, condition, score in (("tamper_covered", covered, 1.0 - spread / 255),
                                       ("tamper_defocus", defocused,
                                        1.0 - sharp / max(self._reference.sharpness, 1e-6) if self._reference else 0),
                                       ("tamper_moved", moved, score_moved)):
            turned = self._flags[kind].update(condition, cfg.confirm_frames)
            if turned is not None:
                out.append(Detection(kind, cleared=not turned, score=round(min(max(score, 0.0), 1.0), 3)))
        if self.tampered or covered:
            return out
        if self._reference is None:
            kps, desc = self._orb.detectAndCompute(norm, None)
            self._reference = _Reference(norm, sharp, kps, desc)
        out += self._occupancy(norm, now)
        self._frames += 1
        if cfg.qr_every and self._frames % cfg.qr_every == 1 % cfg.qr_every:
            out += self._qr(full_gray, now)
        return out

    # -- detectors -----------------------------------------------------------------------
    def _moved(self, norm: np.ndarray) -> tuple[bool, float]:
        ref = self._reference
        assert ref is not None
        kps, desc = self._orb.detectAndCompute(norm, None)
        if desc is None or ref.descriptors is None or len(kps) < 8:
            return True, 1.0
        matches = self._matcher.match(ref.descriptors, desc)
        if len(matches) < self.config.moved_min_inliers:
            return True, 1.0
        src = np.float32([ref.keypoints[m.queryIdx].pt for m in matches])
        dst = np.float32([kps[m.trainIdx].pt for m in matches])
        transform, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0)
        if transform is None or int(inliers.sum()) < self.config.moved_min_inliers:
            return True, 1.0
        shift = math.hypot(transform[0, 2], transform[1, 2]) / norm.shape[1]
        angle = abs(math.degrees(math.atan2(transform[1, 0], transform[0, 0])))
        score = min(1.0, max(shift / self.config.moved_shift, angle / self.config.moved_deg) / 2)
        return shift > self.config.moved_shift or angle > self.config.moved_deg, score

    def _region(self, roi: Roi, shape: tuple[int, ...]) -> _RegionState:
        pts = np.round(np.asarray(roi.polygon, np.float32) * self._scale).astype(np.int32)
        x, y, w, h = cv2.boundingRect(pts)
        x, y = max(x, 0), max(y, 0)
        w, h = max(1, min(w, shape[1] - x)), max(1, min(h, shape[0] - y))
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [pts - [x, y]], 255)
        model = cv2.createBackgroundSubtractorMOG2(history=500, varThreshold=self.config.mog2_var_threshold,
                                                   detectShadows=False)
        return _RegionState(roi, (x, y, w, h), mask, model)

    def _occupancy(self, norm: np.ndarray, now: float) -> list[Detection]:
        cfg = self.config
        out = []
        blurred = cv2.GaussianBlur(norm, (5, 5), 0)
        for region in self._regions:
            x, y, w, h = region.rect
            crop = blurred[y:y + h, x:x + w]
            warm = region.frames < cfg.warmup_frames
            # Learn fast while warming up; not at all while the region is (maybe) occupied.
            rate = 1.0 / (region.frames + 1) if warm else (0.0 if region.since is not None else cfg.learning_rate)
            fg = region.model.apply(crop, learningRate=rate)
            region.frames += 1
            if warm:
                continue
            area = max(1, cv2.countNonZero(region.mask))
            fraction = cv2.countNonZero(cv2.bitwise_and(fg, region.mask)) / area
            roi = region.roi
            if fraction >= cfg.occupied_fraction:
                region.misses = 0
                region.since = now if region.since is None else region.since
                held = now - region.since
                if not region.raised and held >= roi.dwell_s:
                    region.raised = True
                    out.append(Detection("occupancy", roi_id=roi.id, event_code=roi.event_code,
                                         score=round(fraction, 3), occupied_s=round(held, 1)))
            elif region.since is not None:
                region.misses += 1
                if region.misses >= cfg.confirm_frames:
                    if region.raised:
                        out.append(Detection("occupancy", cleared=True, roi_id=roi.id, event_code=roi.event_code,
                                             score=round(fraction, 3), occupied_s=round(now - region.since, 1)))
                    region.since, region.raised, region.misses = None, False, 0
        return out

    def _qr(self, gray: np.ndarray, now: float) -> list[Detection]:
        out = []
        for text in read_qr_codes(gray):
            if now - self._qr_seen.get(text, -1e12) > 600:  # the same label once per 10 minutes
                out.append(Detection("qr", text=text[:512]))
            self._qr_seen[text] = now
        return out


def rois_from_json(items: Sequence[dict]) -> list[Roi]:
    """ROIs as the registry stores them (``[{id, name, event_code, polygon, dwell_s}]``)."""
    return [Roi(str(r["id"]), r.get("name", ""), r["event_code"],
                tuple((int(p[0]), int(p[1])) for p in r["polygon"]), float(r.get("dwell_s", 300)))
            for r in items]
