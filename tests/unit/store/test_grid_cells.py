"""A bad grid-cell row is left out of the grid index with a warning naming it, never a crash
(civicgrid/store/grid_cells.py: the one loader the API, the stream workers, patrol and the city loader use)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from civicgrid.store.grid_cells import load_grid_index, usable_cells

SQUARE = {"type": "Polygon", "coordinates": [[[116.9, 31.4], [116.901, 31.4], [116.901, 31.401], [116.9, 31.4]]]}
BOW_TIE = {"type": "Polygon", "coordinates": [[[116.9, 31.4], [116.901, 31.401], [116.901, 31.4], [116.9, 31.401],
                                               [116.9, 31.4]]]}
POINT = {"type": "Point", "coordinates": [116.9, 31.4]}
LOGGER = "civicgrid.store.grid_cells"


def test_invalid_codes_and_geometries_are_left_out_by_name(caplog: pytest.LogCaptureFixture) -> None:
    rows = [("34152300100101", SQUARE), ("99999999999999", SQUARE), ("34152300100102", {"type": "Bogus"}),
            ("34152300100103", BOW_TIE), ("34152300100104", POINT)]
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        cells = usable_cells(rows)
    assert [code for code, _ in cells] == ["34152300100101"]
    for code in ("99999999999999", "34152300100102", "34152300100103", "34152300100104"):
        assert f"{code!r} left out" in caplog.text


class _Rows:
    def __init__(self, rows: list[tuple[str, Any]]) -> None:
        self.rows = rows

    def execute(self, sql: str) -> _Rows:
        assert "FROM grid_cells" in sql
        return self

    def fetchall(self) -> list[tuple[str, Any]]:
        return self.rows


def test_the_index_keeps_the_good_cells_and_none_without_any(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        index = load_grid_index(_Rows([("34152300100101", SQUARE), ("34152300100103", BOW_TIE)]))  # type: ignore[arg-type]
    assert index is not None and index.codes == ("34152300100101",)
    assert index.lookup(116.9003, 31.4001) == "34152300100101"
    assert load_grid_index(_Rows([("34152300100103", BOW_TIE)])) is None  # type: ignore[arg-type]
