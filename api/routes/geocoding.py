"""/geocode: an address as a caller says it → ranked places with their unit grid cell, and a point → the nearest
address and road (the intake screen's suggestions and the address shown beside a case; docs/geocoding.md)."""

from __future__ import annotations

from typing import Annotated

import psycopg
from fastapi import APIRouter, Depends, Query

from api.auth import ANY_ROLE, require
from api.deps import ApiContext, Ctx, Db
from api.schemas.geocoding import GeocodeAnswer, GeocodeCandidate, ReverseAnswer
from api.users import User
from civicgrid.domain.addresses import normalize
from civicgrid.store.addresses import geocode, reverse_geocode

router = APIRouter(prefix="/geocode", tags=["geocoding"])
Anyone = Annotated[User, Depends(require(*ANY_ROLE))]


@router.get("", summary="Address text → ranked candidates (point, score, unit grid cell)")
def candidates(ctx: Ctx, db: Db, user: Anyone,
               q: Annotated[str, Query(min_length=1, max_length=200, description="the address as said or typed")],
               limit: Annotated[int, Query(ge=1, le=20)] = 5) -> GeocodeAnswer:
    prefixes = ctx.settings.address_prefixes
    cells = ctx.grid_index(db)
    found = geocode(db, q, prefixes=prefixes, limit=limit)
    return GeocodeAnswer(query=q, normalized=normalize(q, prefixes), candidates=[
        GeocodeCandidate(address=c.address, kind=c.kind, score=c.score, lon=c.lon, lat=c.lat,
                         grid_cell_code=cells.lookup(c.lon, c.lat)) for c in found])


@router.get("/reverse", summary="A point → the nearest address and road within a radius, and its unit grid cell")
def reverse(ctx: Ctx, db: Db, user: Anyone,
            lon: Annotated[float, Query(ge=-180, le=180)], lat: Annotated[float, Query(ge=-90, le=90)],
            radius_m: Annotated[float, Query(gt=0, le=2000)] = 200.0) -> ReverseAnswer:
    return reverse_answer(ctx, db, lon, lat, radius_m=radius_m)


def reverse_answer(ctx: ApiContext, db: psycopg.Connection, lon: float, lat: float, *,
                   radius_m: float = 200.0) -> ReverseAnswer:
    """The nearest address and road and the cell of a point: this endpoint's answer, and the one beside every case
    (api/routes/cases.py). Two nearest-neighbour probes on the GiST index and a lookup in the cached cell index."""
    near = reverse_geocode(db, lon, lat, radius_m=radius_m)
    return ReverseAnswer(address=near.address, address_distance_m=near.address_distance_m, road=near.road,
                         road_distance_m=near.road_distance_m, grid_cell_code=ctx.grid_index(db).lookup(lon, lat))
