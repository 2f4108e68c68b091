"""Component labels read from photos: the QR text, found in a photo as a phone takes it."""

from __future__ import annotations

import pytest

from civicgrid.labels import photo_labels
from tests.support.photos import label_photo

LABEL = "CG:3415230102000017"


def test_a_handheld_photo_of_a_label() -> None:
    assert photo_labels(label_photo(1280, 960, LABEL, 220)) == [LABEL]


def test_a_12_megapixel_photo_is_read_after_scaling_down() -> None:
    assert photo_labels(label_photo(4000, 3000, LABEL, 600)) == [LABEL]


def test_a_photo_without_a_label() -> None:
    assert photo_labels(label_photo(1280, 960, None, 0)) == []


def test_bytes_that_are_no_image_are_refused() -> None:
    with pytest.raises(ValueError, match="not a decodable image"):
        photo_labels(b"\xff\xd8\xff\xe0" + b"\x00" * 64)
