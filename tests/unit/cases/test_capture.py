"""Capture and file: the region drawn on a snapshot is checked against its size and marked on a copy."""

import cv2
import numpy as np
import pytest

from civicgrid.cases.capture import BadRegion, check_region, mark_region, snapshot_size

JPEG = cv2.imencode(".jpg", np.full((120, 160, 3), 128, np.uint8))[1].tobytes()


def test_a_region_inside_the_snapshot_is_marked_in_red() -> None:
    assert snapshot_size(JPEG) == (160, 120)
    region = [[20, 20], [100, 20], [100, 90], [20, 90]]
    check_region(region, 160, 120)
    marked = cv2.imdecode(np.frombuffer(mark_region(JPEG, region), np.uint8), cv2.IMREAD_COLOR)
    b, g, r = (int(v) for v in marked[20, 60])
    assert r > 180 and b < 110 and g < 110
    assert abs(int(marked[110, 150][2]) - 128) < 6  # outside: unchanged


@pytest.mark.parametrize(("region", "words"), [
    ([[0, 0], [10, 10], [0, 0]], "3 distinct points"),
    ([[0, 0], [200, 0], [0, 100]], "outside the 160×120"),
])
def test_a_bad_region_is_refused_with_its_reason(region: list[list[int]], words: str) -> None:
    with pytest.raises(BadRegion, match=words):
        check_region(region, 160, 120)


def test_a_file_that_is_not_an_image_is_refused() -> None:
    with pytest.raises(ValueError, match="header"):
        snapshot_size(b"not a jpeg")
