"""QR labels read again only where the picture changed (gateway/cameras/qr.py): what is in view is always what
a whole read would find, and an unchanged picture is not read at all."""

from __future__ import annotations

import cv2
import numpy as np

from civicgrid.labels import read_qr_codes
from gateway.cameras.analysis import normalise
from gateway.cameras.qr import LabelWatch
from simulators.camera.scene import Scene

WALL, KERB = "CG:3415230118000007", "CG:3415230118000011"


def _label(text: str) -> np.ndarray:
    return cv2.resize(cv2.QRCodeEncoder.create().encode(text), (120, 120), interpolation=cv2.INTER_NEAREST)


def test_labels_are_read_where_the_picture_changed_and_remembered_where_it_did_not() -> None:
    scene = Scene(seed=4, width=1280, height=720, clock=lambda: 0.0)
    watch = LabelWatch()
    reads: list[int] = []

    def look(*, kerb: bool, stall: bool = False) -> list[str]:
        if stall:
            scene.add("object_left")
        grey = cv2.cvtColor(scene.frame(), cv2.COLOR_BGR2GRAY)
        scene.clear()
        grey[60:180, 500:620] = _label(WALL)
        if kerb:
            grey[560:680, 1100:1220] = _label(KERB)
        change_map = cv2.resize(normalise(grey), (160, 90), interpolation=cv2.INTER_AREA)
        found = watch.read(change_map, lambda: reads.append(1) or grey)
        assert sorted(found) == sorted(read_qr_codes(grey))  # what a whole read finds, always
        return found

    assert look(kerb=False) == [WALL] and watch.full_reads == 1
    assert look(kerb=False) == [WALL] and len(reads) == 1  # the same picture (sensor noise aside): not read
    assert sorted(look(kerb=True)) == [WALL, KERB] and watch.area_reads == 1  # a new label, read in its area
    assert sorted(look(kerb=True, stall=True)) == [WALL, KERB]  # a stall elsewhere: its area read, labels kept
    assert look(kerb=False) == [WALL]  # the kerb label gone: its area changed, nothing read there
    assert watch.full_reads == 1 and len(reads) == 4
