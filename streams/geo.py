"""Where a problem is: its unit grid cell, from the component's registered place or the reported position.

The GridIndex (civicgrid.domain.geofence) is built from the ``grid_cells`` table
(civicgrid/store/grid_cells.py, as the API builds it) or a GeoJSON file, and rebuilt when the
table changes; component locations are cached. A point outside every cell keeps its coordinates
and is flagged (docs/domain.md §2: kept, flagged, never dropped).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import orjson

from civicgrid.cases.problem import Place
from civicgrid.domain.geofence import GridIndex
from civicgrid.settings import Settings
from civicgrid.store.db import connect
from civicgrid.store.grid_cells import cells_signature, load_grid_index


class GeoResolver:
    def __init__(self, settings: Settings, refresh_s: float = 60.0) -> None:
        self.settings = settings
        self.refresh_s = refresh_s
        self.index: GridIndex | None = None
        self.components: dict[str, tuple[float | None, float | None, str | None]] = {}
        self.component_categories: dict[str, str] = {}
        self._misses: dict[str, float] = {}
        self._loaded_at = 0.0
        self._cells_signature: tuple[Any, ...] | None = None
        self._lock = threading.Lock()

    def refresh(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._loaded_at < self.refresh_s:
            return
        with self._lock, connect(self.settings.db) as conn:
            rows = conn.execute("SELECT code, lon, lat, grid_cell_code, category_code FROM components").fetchall()
            self.components = {code: (lon, lat, cell) for code, lon, lat, cell, _ in rows}
            self.component_categories = {code: category for code, *_, category in rows}
            geojson = self.settings.streams.grid_cells_geojson
            if geojson is not None:
                if self.index is None:
                    self.index = GridIndex.from_geojson(orjson.loads(Path(geojson).read_bytes()))
            else:
                signature = cells_signature(conn)
                if signature != self._cells_signature:
                    self.index = load_grid_index(conn)  # a bad row is left out with a warning, never a crash
                    self._cells_signature = signature
            self._loaded_at = time.monotonic()

    def _refresh_on_miss(self, key: str) -> None:
        """Something unknown may have been registered since the last load: reload, at most once a second.

        A key still unknown after a reload that followed its first miss is really unknown
        (an unregistered component, a point outside the city) and waits for the periodic reload.
        """
        now = time.monotonic()
        first_miss = self._misses.get(key)
        if first_miss is None or now - first_miss > self.refresh_s:
            self._misses[key] = first_miss = now
        if self._loaded_at > first_miss:
            return
        wait = 1.0 - (now - self._loaded_at)
        if wait > 0:
            time.sleep(wait)  # in a worker thread, never on the event loop
        self.refresh(force=True)

    def component_category(self, component_code: str | None) -> str | None:
        """The registered component's own category code (C0102 for a sewage cover), if known."""
        if component_code is None:
            return None
        self.refresh()
        if component_code not in self.component_categories:
            self._refresh_on_miss(f"component:{component_code}")
        return self.component_categories.get(component_code)

    def cell_of(self, lon: float | None, lat: float | None) -> str | None:
        if self.index is None or lon is None or lat is None:
            return None
        return self.index.lookup(lon, lat)

    def locate(self, *, component_code: str | None, device_cell: str | None, lon: float | None,
               lat: float | None) -> Place:
        """The component's registered place wins, then the reported position, then the device's cell."""
        self.refresh()
        if component_code is not None and component_code not in self.components:
            self._refresh_on_miss(f"component:{component_code}")
        if component_code is not None and component_code in self.components:
            c_lon, c_lat, c_cell = self.components[component_code]
            cell = c_cell or self.cell_of(c_lon, c_lat)
            if cell is not None or c_lon is not None:
                return Place(cell, c_lon, c_lat, cell is None)
        if lon is not None and lat is not None:
            cell = self.cell_of(lon, lat)
            if cell is None:
                self._refresh_on_miss("outside-point")
                cell = self.cell_of(lon, lat)
            return Place(cell, lon, lat, cell is None)
        return Place(device_cell, None, None, device_cell is None)

