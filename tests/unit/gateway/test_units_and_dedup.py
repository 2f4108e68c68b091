"""Unit conversion table and the (device, seq) window."""

from __future__ import annotations

import pytest

from gateway.dedup import SeqWindow
from gateway.units import UnitError, convert


@pytest.mark.parametrize(("value", "unit", "canonical", "expected"), [
    (35, "cm", "mm", 350), (212, "degF", "degC", 100), (36, "km/h", "m/s", 10), (0.42, "ratio", "%", 42),
    (273.15, "K", "degC", 0), (7, "mm", "mm", 7),
])
def test_convert(value: float, unit: str, canonical: str, expected: float) -> None:
    assert convert(value, unit, canonical) == pytest.approx(expected)


def test_unconvertible_unit_lists_what_is_accepted() -> None:
    with pytest.raises(UnitError, match="accepted: cm, m, mm"):
        convert(1, "bar", "mm")


def test_window_forgets_the_oldest_sequence_numbers() -> None:
    window = SeqWindow(per_device=2)
    for seq in (1, 2, 3):
        assert not window.is_duplicate("d", seq, b"x")
    assert window.is_duplicate("d", 3, b"x")
    assert not window.is_duplicate("d", 1, b"x")  # fell out of the window
    assert not window.is_duplicate("other", 3, b"x")  # windows are per device
