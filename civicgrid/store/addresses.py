"""The geocoding database: address import, address → ranked candidates → point, and point → nearest address.

Search (`geocode`): the query is normalised (civicgrid/domain/addresses.py) and cut into character bigrams;
the rarest bigrams that the database holds (at most `RARE_GRAMS`, each in at most `GRAM_CAP` addresses, from
`address_gram_counts`) pick the candidates by how many of them each address holds: an index probe per
bigram, never a scan of the table. The candidates are then ranked in Python on the whole strings (rapidfuzz)
and on the parts: the same street and house number is a match, a road segment whose number range (and side)
holds the number gives the point interpolated along it. A house in a lane (人民路100弄5号) is matched on the lane's
own door plates (street 人民路100弄, number 5), else at the lane's entrance on its road (人民路 number 100) with a
score below RESOLVES_AT.

Reverse (`reverse_geocode`): the nearest address point and the nearest road within a radius, by PostGIS's
index-assisted nearest-neighbour order.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from rapidfuzz import fuzz
from shapely.geometry import LineString, shape

from civicgrid.domain.addresses import AddressParts, grams, normalize, parse

KINDS = ("door_plate", "building", "landmark", "road_segment")
RARE_GRAMS = 6  # bigrams of a query used to find candidates
GRAM_CAP = 3000  # a bigram in more addresses than this does not pick candidates (unless nothing rarer is left)
CANDIDATES = 200  # addresses ranked per query
# A best candidate at least this good places a case by its address alone (the same road and number, or a number
# on a road segment's range); below it the case waits for an operator to place it (docs/geocoding.md).
RESOLVES_AT = 0.9
ENTRANCE_SCORE = 0.8  # a house in a lane placed at the lane's entrance on its road (人民路100弄5号 → 人民路100号)
# Another house of the query's street, or of another lane of its road, at most: a long name one digit apart from
# the query scored above RESOLVES_AT by the string alone (十六弄五号 filed at 十四弄五号).
OTHER_HOUSE = 0.7


@dataclass(frozen=True, slots=True)
class AddressEntry:
    """One address to import: a point (door plate, building, landmark) or a road segment's line with its range."""

    kind: str
    address: str
    geometry: dict[str, Any]  # GeoJSON Point or LineString, WGS 84
    number_from: int | None = None
    number_to: int | None = None
    parity: str | None = None  # a road segment's side: odd, even, both


@dataclass(frozen=True, slots=True)
class Candidate:
    address_id: int
    kind: str
    address: str
    score: float  # 0-1
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class NearestAddress:
    address: str | None
    address_distance_m: float | None
    road: str | None
    road_distance_m: float | None


def import_addresses(conn: psycopg.Connection, entries: Iterable[AddressEntry], *, prefixes: Sequence[str] = (),
                     source: str = "", progress: Callable[[int], None] | None = None) -> int:
    """Add addresses (one already there, same kind, text and point, is kept once); returns how many were new.
    `prefixes`: the city's place names stripped when normalising (the same the geocoder strips)."""
    buf = io.StringIO()
    for e in entries:
        if e.kind not in KINDS:
            raise ValueError(f"address {e.address!r}: kind {e.kind!r} is not one of {', '.join(KINDS)}")
        geom = shape(e.geometry)
        point = geom.interpolate(0.5, normalized=True) if isinstance(geom, LineString) else geom.centroid
        norm = normalize(e.address, prefixes)
        parts = parse(norm)
        # A door plate is keyed by the street its number counts along (人民路100弄5号: the lane 人民路100弄, 5);
        # a road segment by its own name, a lane's (人民路100弄) included.
        street, number = (parts.street, None) if e.kind == "road_segment" else parts.plate()
        number_from = e.number_from if e.number_from is not None else number
        number_to = e.number_to if e.number_to is not None else number_from
        buf.write("\t".join(_copy_text(v) for v in (
            e.kind, e.address, norm, street, number_from, number_to, e.parity,
            orjson.dumps(e.geometry).decode(), point.x, point.y, source)) + "\n")
    with conn.transaction():
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS _address_in (kind text, address text, norm text, road text, "
                     "number_from integer, number_to integer, parity text, geojson text, lon double precision, "
                     "lat double precision, source text) ON COMMIT DROP")
        conn.execute("TRUNCATE _address_in")  # a second import in the caller's transaction starts empty
        with conn.cursor().copy("COPY _address_in FROM STDIN") as copy:
            copy.write(buf.getvalue())
        added = conn.execute(
            "INSERT INTO addresses (kind, address, norm, road, number_from, number_to, parity, geom, lon, lat, "
            "source) SELECT kind, address, norm, road, number_from, number_to, parity, "
            "ST_SetSRID(ST_GeomFromGeoJSON(geojson), 4326), lon, lat, source FROM _address_in "
            "ON CONFLICT DO NOTHING RETURNING id, norm").fetchall()
        with conn.cursor().copy("COPY address_grams (gram, address_id) FROM STDIN") as copy:
            for n, (address_id, norm) in enumerate(added, 1):
                for gram in grams(norm):
                    copy.write_row((gram, address_id))
                if progress is not None and n % 10_000 == 0:
                    progress(n)
        conn.execute("TRUNCATE address_gram_counts")
        conn.execute("INSERT INTO address_gram_counts SELECT gram, count(*) FROM address_grams GROUP BY gram")
    return len(added)


def _copy_text(value: object) -> str:
    if value is None:
        return "\\N"
    return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")


def geocode(conn: psycopg.Connection, text: str, *, prefixes: Sequence[str] = (), limit: int = 5) -> list[Candidate]:
    """The best `limit` places for an address as someone said or typed it, best first (module docstring)."""
    query = normalize(text, prefixes)
    wanted = grams(query)
    if not wanted:
        return []
    counts: dict[str, int] = dict(conn.execute("SELECT gram, count FROM address_gram_counts WHERE gram = ANY(%s)",
                               (list(wanted),)).fetchall())
    known = sorted((g for g in wanted if g in counts), key=lambda g: counts[g])
    rare = [g for g in known if counts[g] <= GRAM_CAP][:RARE_GRAMS] or known[:2]
    if not rare:
        return []
    rows = conn.execute(
        "SELECT a.id, a.kind, a.address, a.norm, a.road, a.number_from, a.number_to, a.parity, a.lon, a.lat, "
        "CASE WHEN a.kind = 'road_segment' THEN ST_AsGeoJSON(a.geom) END "
        "FROM (SELECT address_id, count(*) AS hits FROM address_grams WHERE gram = ANY(%s) "
        "      GROUP BY address_id ORDER BY hits DESC, address_id LIMIT %s) g "
        "JOIN addresses a ON a.id = g.address_id", (rare, CANDIDATES)).fetchall()
    parts = parse(query)
    ranked = [c for c in (_candidate(query, parts, row) for row in rows) if c is not None]
    ranked.sort(key=lambda c: (-c.score, c.address_id))
    return ranked[:limit]


def resolve(conn: psycopg.Connection, text: str, *, prefixes: Sequence[str] = ()) -> Candidate | None:
    """The place an address names, when the best candidate is good enough to file a case there unchecked."""
    found = geocode(conn, text, prefixes=prefixes, limit=1)
    return found[0] if found and found[0].score >= RESOLVES_AT else None


def _candidate(query: str, parts: AddressParts, row: tuple[Any, ...]) -> Candidate | None:
    address_id, kind, address, norm, road, *_, lon, lat, _line = row
    score = fuzz.ratio(query, norm) / 100
    street, number = parts.plate()
    entrance = parts.entrance()
    if street is not None and road == street:
        score, lon, lat = _on_street(score, kind, norm == query, number, row)
    elif entrance is not None and road == entrance[0]:
        # A house in a lane whose own door plates are not here: the lane's entrance on its road, offered below
        # RESOLVES_AT (a lane can run a hundred metres in), for an operator to confirm.
        found, lon, lat = _on_street(score, kind, False, entrance[1], row)
        score = min(found, ENTRANCE_SCORE)
    elif entrance is not None and road is not None and road.startswith(entrance[0]) and road.endswith("弄"):
        score = min(score, OTHER_HOUSE)  # another lane of the same road: near in writing, not in place
    return Candidate(address_id, kind, address, round(score, 3), lon, lat)


def _on_street(score: float, kind: str, same: bool, number: int | None,
               row: tuple[Any, ...]) -> tuple[float, float, float]:
    """(score, lon, lat) of an address on the query's street: its door plate with the number, or the number placed
    along a road segment whose range (and side) holds it."""
    *_, number_from, number_to, parity, lon, lat, line = row
    if kind == "road_segment":
        if number is None or number_from is None or number_to is None:
            return max(score, 0.6), lon, lat  # the road, no number to place on it
        if number_from <= number <= number_to and _side(parity, number):
            span = number_to - number_from
            fraction = 0.5 if span == 0 else (number - number_from) / span
            point = shape(orjson.loads(line)).interpolate(fraction, normalized=True)
            return max(score, 0.9), point.x, point.y  # interpolated: good, not a door plate's certainty
        return min(score, 0.5), lon, lat
    if number is not None and number_from == number:
        return max(score, 1.0 if same else 0.95), lon, lat
    if number is not None and number_from is not None:
        return min(score, OTHER_HOUSE), lon, lat  # another house of the street: one digit apart in writing
    return score, lon, lat


def _side(parity: str | None, number: int) -> bool:
    return parity in (None, "both") or (parity == "odd") == (number % 2 == 1)


# The nearest address named for an inspector's place (the handheld's place lookup, a field task's case): farther
# than this it would mislead more than help.
NEAR_ADDRESS_M = 100.0


def reverse_geocode(conn: psycopg.Connection, lon: float, lat: float, *, radius_m: float = 200.0) -> NearestAddress:
    """The nearest address point and the nearest road (segment) within `radius_m` of a point.

    The nearest-neighbour walk of the GiST index is bounded by the radius's box: unbounded, a kind with nothing
    near (a city without road segments) walked the whole index, 0.35 s a call over 200,000 door plates
    (bench/geocode.py, docs/geocoding.md)."""
    point = "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)"
    box = {"dlat": radius_m / 110_574.0, "dlon": radius_m / (111_320.0 * max(math.cos(math.radians(lat)), 0.01))}
    nearest = {}
    for name, kinds in (("address", ["door_plate", "building", "landmark"]), ("road", ["road_segment"])):
        row = conn.execute(
            f"SELECT address, road, ST_Distance(geom::geography, {point}::geography) FROM addresses "
            f"WHERE kind = ANY(%(kinds)s) AND geom && ST_Expand({point}, %(dlon)s, %(dlat)s) "
            f"ORDER BY geom <-> {point} LIMIT 1",
            {"lon": lon, "lat": lat, "kinds": kinds, **box}).fetchone()
        nearest[name] = row if row is not None and row[2] <= radius_m else None
    address, road = nearest["address"], nearest["road"]
    return NearestAddress(address=address[0] if address else None, address_distance_m=round(address[2], 1)
                          if address else None, road=(road[1] or road[0]) if road else None,
                          road_distance_m=round(road[2], 1) if road else None)
