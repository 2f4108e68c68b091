"""Placing an unlocated case: a report that came without a place stays in intake flagged ``unlocated`` (an address
the geocoder could not resolve, or none), and an operator picks its point on the map later (point → unit grid cell).

Placing changes where the case is, not its state: no lifecycle step is taken, so the case's step clocks and its
version stay as they were. The case row and its snapshot get the point and the cell (so the next lifecycle event
names the cell, and dispatch finds the responsible department), and a note keeps who placed it, when and where.
Who may accept a report (受理, the permission table) may place one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from civicgrid.cases import repository as store
from civicgrid.cases.errors import CaseRefused
from civicgrid.cases.snapshot import case_to_json
from civicgrid.domain.case_state import TERMINAL, Action, Role
from civicgrid.domain.permissions import Permissions


class PlaceRefused(CaseRefused):
    """A place for a case that is not unlocated, closed or cancelled, or a point outside every cell."""

    kind = "place-refused"


@dataclass(frozen=True, slots=True)
class Placed:
    case_id: str
    grid_cell_code: str
    lon: float
    lat: float


def place(permissions: Permissions, conn: psycopg.Connection, role: Role, actor: str, case_id: str, lon: float,
          lat: float, now: datetime, cell_at: Callable[[float, float], str | None], *,
          address: str | None = None) -> Placed:
    """Put an unlocated case at (lon, lat) and in the cell there, in one transaction; `address` is what the map
    pick's reverse geocoding said (kept on the note, and as the case's address when it had none)."""
    if not permissions.allows(role, Action.ACCEPT):
        raise PlaceRefused(f"role {role.value} may not accept reports, so may not place one")
    cell = cell_at(lon, lat)
    if cell is None:
        raise PlaceRefused(f"({lon}, {lat}) is outside every unit grid cell: pick a point inside the city's grid")
    with conn.transaction():
        case = store.lock_case(conn, case_id)  # CaseNotFound; the lock orders a place against a file or cancel
        if case.state in TERMINAL:
            raise PlaceRefused(f"case {case_id} is {case.state.value}")
        if not store.is_unlocated(conn, case_id):
            raise PlaceRefused(f"case {case_id} is not unlocated: it has its place already")
        placed = dataclasses.replace(case, cell=cell)
        conn.execute("UPDATE cases SET lon = %s, lat = %s, grid_cell_code = %s, centre_id = centre_of_cell(%s), "
                     "outside_grid = false, unlocated = false, address = coalesce(address, %s), snapshot = %s, "
                     "updated_at = now() WHERE id = %s",
                     (lon, lat, cell, cell, address, Jsonb(case_to_json(placed)), case_id))
        store.add_evidence(conn, case_id, store.Evidence(
            f"placed:{case_id}", "note", now, None,
            {"placed": {k: v for k, v in {"lon": lon, "lat": lat, "cell": cell, "address": address,
                                          "by": actor}.items() if v is not None}}))
    return Placed(case_id, cell, lon, lat)
