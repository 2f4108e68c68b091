"""A bad grid-cell row is left out of the worker's grid index with a warning, never a crash."""

from __future__ import annotations

import logging

import pytest

from streams.geo import _valid_cells

SQUARE = {"type": "Polygon", "coordinates": [[[116.9, 31.4], [116.901, 31.4], [116.901, 31.401], [116.9, 31.4]]]}


def test_invalid_codes_and_geometries_are_left_out_by_name(caplog: pytest.LogCaptureFixture) -> None:
    rows = [("34152300100101", SQUARE), ("99999999999999", SQUARE), ("34152300100102", {"type": "Bogus"})]
    with caplog.at_level(logging.WARNING, logger="streams.geo"):
        cells = _valid_cells(rows)
    assert [code for code, _ in cells] == ["34152300100101"]
    assert "'99999999999999' left out" in caplog.text and "'34152300100102' left out" in caplog.text
