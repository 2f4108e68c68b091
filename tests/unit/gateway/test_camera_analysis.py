"""The OpenCV detectors on generated frames (simulators/camera/scene.py): true positives, and nothing on
lighting changes within the stated tolerance (a global gain of 0.6 to 1.5) or on passing traffic."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from civicgrid.labels import read_qr_codes
from gateway.cameras.analysis import FrameAnalyzer, Roi, decode_jpeg
from simulators.camera.scene import Scene

STEP_S = 10.0  # one snapshot every 10 s, as the poller's default


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def rig():
    clock = Clock()
    scene = Scene(seed=5, clock=clock, width=640, height=360)  # the analysis works at 640 wide anyway
    roi = Roi("stall", "店外经营区", "E0504", tuple(tuple(p) for p in scene.stall_roi()), dwell_s=60)
    analyzer = FrameAnalyzer([roi])

    def run(frames: int) -> list:
        found = []
        for _ in range(frames):
            clock.t += STEP_S
            found += analyzer.analyse(decode_jpeg(scene.jpeg()), clock.t)
        return found

    return scene, analyzer, run


def kinds(detections) -> list[tuple[str, bool]]:
    return [(d.kind, d.cleared) for d in detections]


def test_a_quiet_street_raises_nothing(rig) -> None:
    scene, _, run = rig
    scene.car_every_s = 35.0  # a car crosses now and then: motion, not occupancy
    assert run(20) == []


@pytest.mark.parametrize("gain", [0.6, 0.75, 1.3, 1.5])
def test_a_change_of_light_within_tolerance_raises_nothing(rig, gain: float) -> None:
    scene, _, run = rig
    assert run(4) == []
    scene.add("light", value=gain)
    assert run(6) == []
    scene.clear("light")
    assert run(3) == []


def test_an_object_left_in_the_region_raises_once_after_the_dwell_time_and_clears_once(rig) -> None:
    scene, _, run = rig
    run(4)
    scene.add("object_left")
    before_dwell = run(5)  # 50 s < 60 s dwell
    assert before_dwell == []
    raised = run(10)  # it stays 150 s more: still one event
    assert kinds(raised) == [("occupancy", False)]
    event = raised[0]
    assert (event.roi_id, event.event_code) == ("stall", "E0504")
    assert event.occupied_s >= 60 and event.score > 0.25
    scene.clear("object_left")
    assert kinds(run(4)) == [("occupancy", True)]
    assert run(5) == []  # the empty region is not a new object: the model did not learn the stall


def test_an_object_that_leaves_before_the_dwell_time_raises_nothing(rig) -> None:
    scene, _, run = rig
    run(4)
    scene.add("object_left", duration_s=3 * STEP_S)
    assert run(12) == []


def test_a_covered_lens_is_tamper_and_its_end_clears_it(rig) -> None:
    scene, analyzer, run = rig
    run(3)
    scene.add("covered")
    found = run(3)
    assert kinds(found) == [("tamper_covered", False)]
    assert analyzer.tampered
    scene.clear("covered")
    assert kinds(run(3)) == [("tamper_covered", True)]


def test_a_defocused_lens_is_tamper(rig) -> None:
    scene, _, run = rig
    run(3)
    scene.add("defocus")
    assert kinds(run(3)) == [("tamper_defocus", False)]
    scene.clear("defocus")
    assert kinds(run(3)) == [("tamper_defocus", True)]


def test_a_turned_camera_is_tamper_and_no_region_event_follows(rig) -> None:
    scene, _, run = rig
    run(3)
    scene.add("turned")
    found = run(12)  # 120 s turned: longer than the dwell, but regions are not analysed while tampered
    assert kinds(found) == [("tamper_moved", False)]
    scene.clear("turned")
    assert kinds(run(3)) == [("tamper_moved", True)]


def test_a_single_odd_frame_is_not_tamper() -> None:
    clock = Clock()
    scene = Scene(seed=9, clock=clock)
    analyzer = FrameAnalyzer([])
    for _ in range(3):
        clock.t += STEP_S
        analyzer.analyse(scene.frame(), clock.t)
    dark = np.full((720, 1280, 3), 10, np.uint8)
    assert analyzer.analyse(dark, clock.t + 1) == []  # one frame: confirm_frames is 2


def test_qr_codes_are_read_from_a_snapshot() -> None:
    label = "CG:3415230118000007"
    qr = cv2.resize(cv2.QRCodeEncoder.create().encode(label), (150, 150), interpolation=cv2.INTER_NEAREST)
    frame = Scene(seed=2, clock=lambda: 0.0).frame()
    frame[60:210, 500:650] = cv2.cvtColor(qr, cv2.COLOR_GRAY2BGR)
    assert read_qr_codes(frame) == [label]
    analyzer = FrameAnalyzer([])
    found = analyzer.analyse(frame, 0.0)
    assert [(d.kind, d.text) for d in found] == [("qr", label)]
    assert read_qr_codes(Scene(seed=2, clock=lambda: 0.0).frame()) == []


def test_a_snapshot_that_is_not_an_image_is_refused() -> None:
    with pytest.raises(ValueError):
        decode_jpeg(b"\xff\xd8\xff not really")
