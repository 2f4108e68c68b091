"""The point → cell index over the `grid_cells` table, built the same way by every service that needs one.

The API (a report's cell), the stream workers (a problem's cell), patrol coverage (a track point's
cell) and the city loader (a road segment's grid) all ask the same question of the same rows, so they
must get the same answer: one loader, one validation. A row the index cannot take (a bad code, a
broken or non-polygon geometry: loaded by hand, an old import) is left out with a warning naming it,
so a single bad cell costs the city that cell, never the whole index nor a crashing worker.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import psycopg
import shapely
from shapely.errors import ShapelyError
from shapely.geometry.base import BaseGeometry

from civicgrid.domain.errors import DomainError
from civicgrid.domain.geofence import GridIndex, check_cell

log = logging.getLogger(__name__)


def cells_signature(conn: psycopg.Connection) -> tuple[Any, ...]:
    """Changes when cells are added: a cached index is rebuilt only then (≈ 1 s for 2,500 cells)."""
    return tuple(conn.execute("SELECT count(*), max(created_at)::text FROM grid_cells").fetchone() or ())


def load_grid_index(conn: psycopg.Connection) -> GridIndex | None:
    """The index over every usable cell in the database; None when there is none."""
    rows = conn.execute("SELECT code, geometry FROM grid_cells ORDER BY code").fetchall()
    cells = usable_cells(rows)
    log.info("grid index built from %d of %d cells", len(cells), len(rows))
    return GridIndex(cells, cell_width=None) if cells else None  # codes were checked by usable_cells


def usable_cells(rows: Iterable[tuple[str, Any]]) -> list[tuple[str, BaseGeometry]]:
    """(code, GeoJSON geometry) rows → (code, shape) for the cells a `GridIndex` takes; the others are
    left out with a warning naming them."""
    cells = []
    for code, geometry in rows:
        try:
            geom = shapely.geometry.shape(geometry)
            check_cell(code, geom)
        except (DomainError, ShapelyError, ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("grid cell %r left out of the grid index: %s", code, exc)
            continue
        cells.append((code, geom))
    return cells
