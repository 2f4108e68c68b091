"""Open cases near a point: the duplicate candidates of a report, by PostGIS distance on the open cases' index.

`ST_DWithin` on geography (metres on the spheroid, no projection to pick) uses the partial GiST index of
migration 0015, which holds only open cases with a point, so the query reads the open work around the point, never
the case history. Nearest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

_POINT = "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography"
_CASE_POINT = "ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326)::geography"


@dataclass(frozen=True, slots=True)
class NearbyCase:
    case_id: str
    case_no: str
    state: str
    category_code: str
    distance_m: float
    reported_at: datetime
    description: str | None
    address: str | None
    callers: int  # people already on it (the first caller and those linked)


def open_cases_near(conn: psycopg.Connection, *, category_code: str, lon: float, lat: float, radius_m: float,
                    since: datetime, limit: int = 10) -> list[NearbyCase]:
    """Open cases of `category_code` within `radius_m` of the point, reported since `since`, nearest first."""
    rows = conn.execute(
        f"SELECT c.id::text, c.case_no, c.state, c.category_code, ST_Distance({_CASE_POINT}, {_POINT}) AS d, "
        "c.reported_at, c.description, c.address, "
        "(SELECT count(*) FROM case_callers k WHERE k.case_id = c.id) "
        "FROM cases c WHERE c.state NOT IN ('closed', 'cancelled') AND c.lon IS NOT NULL AND c.lat IS NOT NULL "
        f"AND ST_DWithin({_CASE_POINT}, {_POINT}, %(radius)s) "
        "AND c.category_code = %(category)s AND c.reported_at >= %(since)s "
        "ORDER BY d, c.reported_at LIMIT %(limit)s",
        {"lon": lon, "lat": lat, "radius": radius_m, "category": category_code, "since": since, "limit": limit},
    ).fetchall()
    return [NearbyCase(r[0], r[1], r[2], r[3], float(r[4]), r[5], r[6], r[7], int(r[8])) for r in rows]
