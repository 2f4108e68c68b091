"""Classical frame analysis of camera snapshots (OpenCV): tamper, per-region occupancy, QR codes.

No model weights can be fetched here, so every detector is a classical method:

- **covered** lens: the frame is flat (grey-level standard deviation under ``covered_std``);
- **defocus**: the variance of the Laplacian falls under ``defocus_ratio`` × the reference's;
- **moved**: ORB features of the frame matched against the reference frame; a RANSAC
  similarity transform that shifts more than ``moved_shift`` of the width or turns more than
  ``moved_deg``, or too few inliers to find one, means the camera was turned.  ORB is the
  costliest step of a frame, so a phase correlation of the half-size frame with the
  reference's decides first: a strong peak (``steady_response``) at a shift under half of
  ``moved_shift`` is a camera that has not moved, and ORB only runs otherwise (a turn of
  2.5° or more already flattens the peak well below that; see docs/cameras.md);
- **occupancy** per region of interest: a small MOG2 background model per region crop of
  the half-size frame (3 Gaussians a pixel); a region whose polygon is more than
  ``occupied_fraction`` foreground for ``dwell_s`` raises one event (and one clear when it
  empties).  While a region is occupied its model stops learning, so a stall that stays is
  not absorbed into the background and its leaving is not mistaken for a new object;
- **QR codes** (component labels), on the full-size frame every ``qr_every``th frame, read
  again only where the picture changed since the last read (gateway/cameras/qr.py).

Lighting: each frame is scaled to a mean grey of 128 before the background models and the
sharpness measure see it, so a global change of light does not look like an object.  Stated
tolerance (tests/unit/gateway/test_camera_analysis.py): a global gain between 0.6 and 1.5
raises nothing.  A tamper condition must hold for ``confirm_frames`` frames in a row, and so
must its end; while a camera is tampered its regions are not analysed.

Cost (the poller's budget is a few milliseconds a snapshot): `FrameAnalyzer.analyse_jpeg`
decodes the JPEG in grey at the smallest libjpeg DCT scale still ``ANALYSIS_WIDTH`` wide (a
1280×720 snapshot is decoded straight to 640×360), and at full size only for a QR turn; a
snapshot byte-identical to the previous one is not decoded again: the previous frame's
measures go through the rules once more (dwell times still run out).

Pure: frames (or JPEG bytes) and times in, `Detection`s out; no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from gateway.cameras.decoding import ANALYSIS_WIDTH, decode_grey
from gateway.cameras.qr import LabelWatch

_WINDOWS: dict[tuple[int, int], np.ndarray] = {}  # Hanning windows by size, shared by every camera


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
    steady_response: float = 0.6  # phase-correlation peak above which (and a small shift) ORB is skipped
    occupied_fraction: float = 0.25
    mog2_var_threshold: float = 36.0
    mog2_mixtures: int = 3
    learning_rate: float = 0.005
    warmup_frames: int = 3
    confirm_frames: int = 2
    qr_every: int = 6  # read QR codes on every Nth frame (0: never); the costliest step by far


@dataclass(slots=True)
class _RegionState:
    roi: Roi
    rect: tuple[int, int, int, int]  # in the half-size frame
    mask: np.ndarray
    area: int
    model: cv2.BackgroundSubtractorMOG2
    frames: int = 0
    since: float | None = None
    misses: int = 0
    raised: bool = False


@dataclass(slots=True)
class _Reference:
    sharpness: float
    points: np.ndarray  # ORB keypoint positions, float32 (n, 2)
    descriptors: np.ndarray | None
    thumb: np.ndarray  # the half-size normalised frame, uint8 (phase correlation)


@dataclass(slots=True)
class _Measures:
    """What one frame measured, before any rule: what a byte-identical snapshot reuses."""

    spread: float
    sharp: float
    defocused: bool
    moved: bool
    moved_score: float
    change_map: np.ndarray  # the normalised frame at a quarter of the analysis width (QR reads)
    fractions: list[float] | None = None  # per region, once every region's model is warm


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


def normalise(gray: np.ndarray, mean: float | None = None) -> np.ndarray:
    """Scale a grey frame to a mean of 128: a global change of light disappears."""
    mean = float(gray.mean()) if mean is None else mean
    return cv2.convertScaleAbs(gray, alpha=128.0 / max(mean, 1.0))


def sharpness(gray: np.ndarray) -> float:
    return float(cv2.Laplacian(gray, cv2.CV_32F).var())


def _window(shape: tuple[int, ...]) -> np.ndarray:
    key = (shape[1], shape[0])
    window = _WINDOWS.get(key)
    if window is None:
        window = _WINDOWS[key] = cv2.createHanningWindow(key, cv2.CV_32F)
    return window


class FrameAnalyzer:
    """One camera's analysis state: its reference frame, tamper flags and region models."""

    def __init__(self, rois: Sequence[Roi], config: AnalysisConfig | None = None) -> None:
        self.config = config or AnalysisConfig()
        self.rois = list(rois)
        self._orb = cv2.ORB_create(nfeatures=500)
        self._matcher = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
        self._reference: _Reference | None = None
        self._regions: list[_RegionState] = []
        self._flags = {"tamper_covered": _Flag(), "tamper_defocus": _Flag(), "tamper_moved": _Flag()}
        self._qr_seen: dict[str, float] = {}
        self._frames = 0
        self._digest: bytes | None = None  # of the latest snapshot, and what it measured (when complete)
        self._measures: _Measures | None = None
        self.labels = LabelWatch()
        self.orb_runs = 0  # frames the steadiness check could not settle (the benchmark reports them)
        self.repeats = 0  # snapshots identical to the one before, not decoded
        self.last: dict[str, float] = {}  # brightness, sharpness of the latest frame (health telemetry)

    @property
    def tampered(self) -> bool:
        return any(f.on for f in self._flags.values())

    def reset_reference(self) -> None:
        """Take the next good frame as the reference (after an operator re-aimed the camera)."""
        self._reference = None

    def analyse(self, frame: np.ndarray, now: float) -> list[Detection]:
        """Everything a decoded frame (BGR or grey, any size) shows that is new: raised or cleared conditions."""
        full_gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        width = full_gray.shape[1]
        scale = ANALYSIS_WIDTH / width if width > ANALYSIS_WIDTH else 1.0
        gray = (cv2.resize(full_gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                if scale != 1.0 else full_gray)
        self._digest = self._measures = None
        return self._frame(gray, width, now, lambda: full_gray)

    def analyse_jpeg(self, jpeg: bytes, now: float) -> list[Detection]:
        """Everything a snapshot shows that is new, decoded at reduced scale; ValueError if it is no image."""
        digest = hashlib.blake2b(jpeg, digest_size=16).digest()

        def full_grey() -> np.ndarray:
            return decode_grey(jpeg, full=True)[0]

        if digest == self._digest and self._measures is not None and self._measures.fractions is not None:
            self.repeats += 1
            return self._repeat(self._measures, now, full_grey)
        gray, width = decode_grey(jpeg)
        if gray.shape[1] > ANALYSIS_WIDTH:  # e.g. 1920 wide: decoded at 960, then to 640
            gray = cv2.resize(gray, (ANALYSIS_WIDTH, round(gray.shape[0] * ANALYSIS_WIDTH / gray.shape[1])),
                              interpolation=cv2.INTER_AREA)
        self._digest = digest
        return self._frame(gray, width, now, full_grey)

    # -- one frame -----------------------------------------------------------------------
    def _frame(self, gray: np.ndarray, width: int, now: float, full_grey: Callable[[], np.ndarray]) -> list[Detection]:
        cfg = self.config
        mean, std = cv2.meanStdDev(gray)
        brightness, spread = float(mean[0, 0]), float(std[0, 0])
        norm = normalise(gray, brightness)
        thumb = cv2.resize(norm, (max(1, norm.shape[1] // 2), max(1, norm.shape[0] // 2)),
                           interpolation=cv2.INTER_AREA)
        if not self._regions and self.rois:
            self._regions = [self._region(r, thumb.shape[1] / width, thumb.shape) for r in self.rois]
        sharp = sharpness(norm)
        self.last = {"brightness": brightness, "sharpness": sharp}
        covered = spread < cfg.covered_std
        defocused = moved = False
        moved_score = 0.0
        if not covered and self._reference is not None:
            defocused = sharp < cfg.defocus_ratio * self._reference.sharpness
            if not defocused:
                moved, moved_score = self._moved(norm, thumb)
        change_map = cv2.resize(thumb, (max(1, thumb.shape[1] // 2), max(1, thumb.shape[0] // 2)),
                                interpolation=cv2.INTER_AREA)
        measures = self._measures = _Measures(spread, sharp, defocused, moved, moved_score, change_map)
        out = self._tamper_rules(measures, covered)
        if self.tampered or covered:
            return out
        if self._reference is None:
            kps, desc = self._orb.detectAndCompute(norm, None)
            self._reference = _Reference(sharp, np.float32([k.pt for k in kps]).reshape(-1, 2), desc, thumb)
        fractions = self._fractions(cv2.GaussianBlur(thumb, (3, 3), 0))
        if all(f is not None for f in fractions):
            measures.fractions = [f for f in fractions if f is not None]
        out += self._region_rules(fractions, now)
        return out + self._qr_turn(change_map, full_grey, now)

    def _repeat(self, measures: _Measures, now: float, full_grey: Callable[[], np.ndarray]) -> list[Detection]:
        """A snapshot identical to the previous one: its measures go through the rules again."""
        out = self._tamper_rules(measures, False)
        if self.tampered:
            return out
        out += self._region_rules(list(measures.fractions or ()), now)
        return out + self._qr_turn(measures.change_map, full_grey, now)

    def _tamper_rules(self, m: _Measures, covered: bool) -> list[Detection]:
        cfg, ref = self.config, self._reference
        out = []
        for kind, condition, score in (("tamper_covered", covered, 1.0 - m.spread / 255),
                                       ("tamper_defocus", m.defocused,
                                        1.0 - m.sharp / max(ref.sharpness, 1e-6) if ref else 0),
                                       ("tamper_moved", m.moved, m.moved_score)):
            turned = self._flags[kind].update(condition, cfg.confirm_frames)
            if turned is not None:
                out.append(Detection(kind, cleared=not turned, score=round(min(max(score, 0.0), 1.0), 3)))
        return out

    def _qr_turn(self, change_map: np.ndarray, full_grey: Callable[[], np.ndarray], now: float) -> list[Detection]:
        cfg = self.config
        self._frames += 1
        if not cfg.qr_every or self._frames % cfg.qr_every != 1 % cfg.qr_every:
            return []
        out = []
        for text in self.labels.read(change_map, full_grey):
            if now - self._qr_seen.get(text, -1e12) > 600:  # the same label once per 10 minutes
                out.append(Detection("qr", text=text[:512]))
            self._qr_seen[text] = now
        return out

    # -- detectors -----------------------------------------------------------------------
    def _moved(self, norm: np.ndarray, thumb: np.ndarray) -> tuple[bool, float]:
        ref = self._reference
        assert ref is not None
        (dx, dy), response = cv2.phaseCorrelate(ref.thumb.astype(np.float32), thumb.astype(np.float32),
                                                _window(thumb.shape))
        shift = math.hypot(dx, dy) / thumb.shape[1]
        if response >= self.config.steady_response and shift < self.config.moved_shift / 2:
            return False, min(1.0, shift / self.config.moved_shift / 2)
        self.orb_runs += 1
        kps, desc = self._orb.detectAndCompute(norm, None)
        if desc is None or ref.descriptors is None or len(kps) < 8:
            return True, 1.0
        matches = self._matcher.match(ref.descriptors, desc)
        if len(matches) < self.config.moved_min_inliers:
            return True, 1.0
        src = ref.points[[m.queryIdx for m in matches]]
        dst = np.float32([kps[m.trainIdx].pt for m in matches])
        transform, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0)
        if transform is None or int(inliers.sum()) < self.config.moved_min_inliers:
            return True, 1.0
        shift = math.hypot(transform[0, 2], transform[1, 2]) / norm.shape[1]
        angle = abs(math.degrees(math.atan2(transform[1, 0], transform[0, 0])))
        score = min(1.0, max(shift / self.config.moved_shift, angle / self.config.moved_deg) / 2)
        return shift > self.config.moved_shift or angle > self.config.moved_deg, score

    def _region(self, roi: Roi, scale: float, shape: tuple[int, ...]) -> _RegionState:
        pts = np.round(np.asarray(roi.polygon, np.float32) * scale).astype(np.int32)
        x, y, w, h = cv2.boundingRect(pts)
        x, y = max(x, 0), max(y, 0)
        w, h = max(1, min(w, shape[1] - x)), max(1, min(h, shape[0] - y))
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [pts - [x, y]], 255)
        model = cv2.createBackgroundSubtractorMOG2(history=500, varThreshold=self.config.mog2_var_threshold,
                                                   detectShadows=False)
        model.setNMixtures(self.config.mog2_mixtures)
        return _RegionState(roi, (x, y, w, h), mask, max(1, cv2.countNonZero(mask)), model)

    def _fractions(self, blurred: np.ndarray) -> list[float | None]:
        """Each region's foreground share (None while its model warms up); the models learn this frame."""
        cfg = self.config
        out: list[float | None] = []
        for region in self._regions:
            x, y, w, h = region.rect
            warm = region.frames < cfg.warmup_frames
            # Learn fast while warming up; not at all while the region is (maybe) occupied.
            rate = 1.0 / (region.frames + 1) if warm else (0.0 if region.since is not None else cfg.learning_rate)
            fg = region.model.apply(blurred[y:y + h, x:x + w], learningRate=rate)
            region.frames += 1
            out.append(None if warm else cv2.countNonZero(cv2.bitwise_and(fg, region.mask)) / region.area)
        return out

    def _region_rules(self, fractions: Sequence[float | None], now: float) -> list[Detection]:
        cfg = self.config
        out = []
        for region, fraction in zip(self._regions, fractions, strict=True):
            if fraction is None:
                continue
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


def rois_from_json(items: Sequence[dict]) -> list[Roi]:
    """ROIs as the registry stores them (``[{id, name, event_code, polygon, dwell_s}]``)."""
    return [Roi(str(r["id"]), r.get("name", ""), r["event_code"],
                tuple((int(p[0]), int(p[1])) for p in r["polygon"]), float(r.get("dwell_s", 300)))
            for r in items]
