"""Imports in the city's coordinate system (issue 20, item 6): the same points given in WGS 84 and in CGCS2000
3° Gauss–Krüger (EPSG:4548), as GeoJSON, CSV and Excel, through the admin API and the CLI, land within 0.5 m of
each other; a file with errors is refused with each row and field, and nothing is written."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import psycopg
import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer

from civicgrid.settings import Settings
from tests.integration.basedata.support import POINTS, codes, metres_apart, xlsx
from tests.integration.test_cli_devices import civicgrid

pytestmark = pytest.mark.integration
Headers = Callable[[str], dict[str, str]]
# The projected test points, computed here from the known WGS 84 ones (always_xy: easting, northing).
TO_4548 = Transformer.from_crs("EPSG:4326", "EPSG:4548", always_xy=True)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _stored(db: psycopg.Connection, code: str) -> tuple[float, float]:
    row = db.execute("SELECT lon, lat FROM components WHERE code = %s", (code,)).fetchone()
    assert row is not None, code
    return row[0], row[1]


def _geojson(code_list: list[str], points: list[tuple[float, float]]) -> bytes:
    return orjson.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(p)},
         "properties": {"code": c, "name": f"井盖 {n}", "owner": "县自来水公司", "井深": "1.2 m"}}
        for n, (c, p) in enumerate(zip(code_list, points, strict=True))]})


def test_components_in_epsg_4548_land_within_half_a_metre_of_the_same_points_in_wgs84(
        client: TestClient, as_user: Headers, db: psycopg.Connection) -> None:
    wgs, gk_json, gk_csv, gk_xlsx = (codes(len(POINTS)) for _ in range(4))
    projected = [TO_4548.transform(lon, lat) for lon, lat in POINTS]
    admin = as_user("api-admin")

    r = client.post("/basedata/components/import", params={"crs": "EPSG:4326", "name": "wgs.geojson"},
                    content=_geojson(wgs, POINTS), headers={**admin, "Content-Type": "application/geo+json"})
    assert r.status_code == 200, r.text
    assert r.json() == {"kind": "components", "rows": 5, "added": 5, "updated": 0, "unchanged": 0, "crs": "EPSG:4326"}
    r = client.post("/basedata/components/import", params={"crs": "EPSG:4548", "name": "gk.geojson"},
                    content=_geojson(gk_json, projected), headers={**admin, "Content-Type": "application/geo+json"})
    assert r.status_code == 200, r.text
    csv = "部件编码,名称,东坐标,北坐标,状态\n" + "".join(
        f"{c},井盖,{e:.3f},{n:.3f},完好\n" for c, (e, n) in zip(gk_csv, projected, strict=True))
    r = client.post("/basedata/components/import", params={"crs": "EPSG:4548", "name": "gk.csv"},
                    content=csv.encode("gb18030"), headers={**admin, "Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    book = xlsx(["code", "name", "easting", "northing"],
                [[c, "井盖", e, n] for c, (e, n) in zip(gk_xlsx, projected, strict=True)])
    r = client.post("/basedata/components/import", params={"crs": "EPSG:4548", "name": "gk.xlsx"},
                    content=book, headers={**admin, "Content-Type": XLSX})
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 5

    for i, point in enumerate(POINTS):
        reference = _stored(db, wgs[i])
        assert metres_apart(reference, point) < 0.001
        for batch in (gk_json, gk_csv, gk_xlsx):
            assert metres_apart(_stored(db, batch[i]), reference) < 0.5, (batch[i], _stored(db, batch[i]), point)
    # Each landed in the cell holding its point, and its import is in its history.
    row = db.execute("SELECT grid_cell_code, owner, attributes->>'井深' FROM components WHERE code = %s",
                     (gk_json[0],)).fetchone()
    assert row == ("34152300100101", "县自来水公司", "1.2 m")  # a field with no column of its own: an attribute
    history = client.get(f"/basedata/components/{gk_json[0]}/history", headers=admin).json()["items"]
    assert [(h["action"], h["actor"], h["reason"]) for h in history] == [("add", "api-admin", "import gk.geojson "
                                                                                              "(EPSG:4548)")]


def test_addresses_in_epsg_4548_land_where_the_wgs84_ones_do(client: TestClient, as_user: Headers,
                                                             db: psycopg.Connection) -> None:
    tag = codes(1)[0][-6:]
    road = f"测试{tag}路"
    wgs_rows = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": list(p)},
                 "properties": {"kind": "door_plate", "address": f"{road}{2 * n + 1}号"}} for n, p in enumerate(POINTS)]
    r = client.post("/basedata/addresses/import", params={"crs": "EPSG:4326", "name": "a.geojson"},
                    content=orjson.dumps({"type": "FeatureCollection", "features": wgs_rows}),
                    headers={**as_user("api-admin"), "Content-Type": "application/geo+json"})
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 5
    line = [TO_4548.transform(*POINTS[0]), TO_4548.transform(*POINTS[1])]
    book = xlsx(["类型", "地址", "东坐标", "北坐标", "几何", "起始门牌", "终止门牌", "单双号"],
                [["building", f"{road}{2 * n + 1}号楼", e, n_, None, None, None, None]
                 for n, (e, n_) in enumerate(TO_4548.transform(*p) for p in POINTS)]
                + [["road_segment", road, None, None, f"LINESTRING ({line[0][0]} {line[0][1]}, {line[1][0]} "
                                                      f"{line[1][1]})", 1, 9, "单"]])
    r = client.post("/basedata/addresses/import", params={"crs": "EPSG:4548", "name": "a.xlsx"}, content=book,
                    headers={**as_user("api-admin"), "Content-Type": XLSX})
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 6
    for n, point in enumerate(POINTS):
        plate = db.execute("SELECT lon, lat FROM addresses WHERE address = %s", (f"{road}{2 * n + 1}号",)).fetchone()
        building = db.execute("SELECT lon, lat FROM addresses WHERE address = %s",
                              (f"{road}{2 * n + 1}号楼",)).fetchone()
        assert plate is not None and building is not None
        assert metres_apart(plate, point) < 0.001
        assert metres_apart(building, plate) < 0.5
    segment = db.execute("SELECT number_from, number_to, parity, ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)) "
                         "FROM addresses WHERE kind = 'road_segment' AND address = %s", (road,)).fetchone()
    assert segment is not None and segment[:3] == (1, 9, "odd")
    assert metres_apart((segment[3], segment[4]), POINTS[0]) < 0.5


def test_a_file_with_errors_is_refused_with_each_row_and_field_and_nothing_is_written(
        client: TestClient, as_user: Headers, db: psycopg.Connection) -> None:
    good, bad_state, far, no_code = codes(4)
    e, n = TO_4548.transform(*POINTS[0])
    csv = (f"code,easting,northing,state,department_id\n{good},{e},{n},intact,utilities\n"
           f"{bad_state},{e},{n},broken,\n"
           f"{far},{e + 39_000_000},{n},,\n"  # the zone number left on the easting
           f"{no_code[:-1]},{e},{n},,nobody\n")
    r = client.post("/basedata/components/import", params={"crs": "EPSG:4548", "name": "bad.csv"},
                    content=csv.encode(), headers={**as_user("api-admin"), "Content-Type": "text/csv"})
    assert r.status_code == 422, r.text
    errors = {(x["row"], x["field"]) for x in r.json()["errors"]}
    assert errors == {("row 3", "state"), ("row 4", "geometry"), ("row 5", "code"), ("row 5", "department_id")}
    assert "outside EPSG:4548's area" in next(x["message"] for x in r.json()["errors"] if x["row"] == "row 4")
    assert db.execute("SELECT count(*) FROM components WHERE code = %s", (good,)).fetchone() == (0,)

    swapped = client.post("/basedata/components/import", params={"crs": "EPSG:4548", "name": "xy.csv"},
                          content=f"code,x,y\n{good},{e},{n}\n".encode(),
                          headers={**as_user("api-admin"), "Content-Type": "text/csv"})
    assert swapped.status_code == 422 and swapped.json()["errors"][0]["field"] == "x/y"
    wrong_crs = client.post("/basedata/components/import", params={"crs": "EPSG:99999"}, content=b"{}",
                            headers={**as_user("api-admin"), "Content-Type": "application/geo+json"})
    assert wrong_crs.status_code == 422 and "unknown coordinate reference system" in wrong_crs.json()["detail"]
    operator = client.post("/basedata/components/import", content=b"{}",
                           headers={**as_user("api-operator"), "Content-Type": "application/geo+json"})
    assert operator.status_code == 403


def test_cli_imports_in_epsg_4548_with_progress_and_refuses_with_the_row(
        settings: Settings, org: dict[str, int], db: psycopg.Connection, tmp_path: pytest.TempPathFactory) -> None:
    batch = codes(len(POINTS))
    rows = [[c, "雨水井盖", *TO_4548.transform(*p)] for c, p in zip(batch, POINTS, strict=True)]
    path = tmp_path / "covers.xlsx"  # type: ignore[operator]
    path.write_bytes(xlsx(["部件编码", "部件名称", "东坐标", "北坐标"], rows))
    done = civicgrid(settings, "basedata", "import", "components", str(path), "--crs", "EPSG:4548")
    assert done.returncode == 0, done.stderr
    assert "components: 5/5" in done.stderr and "5 added" in done.stderr
    for code, point in zip(batch, POINTS, strict=True):
        assert metres_apart(_stored(db, code), point) < 0.5
    bad = tmp_path / "bad.csv"  # type: ignore[operator]
    bad.write_text(f"code,lon,lat\n{codes(1)[0]},116.94,abc\n", encoding="utf-8")
    done = civicgrid(settings, "basedata", "import", "components", str(bad))
    assert done.returncode == 1
    assert "row 2, lon/lat: not a number" in done.stderr


def test_cli_reads_a_geojson_in_the_crs_its_crs_member_declares_and_refuses_another_crs(
        settings: Settings, org: dict[str, int], db: psycopg.Connection, tmp_path: pytest.TempPathFactory) -> None:
    """A department's GeoJSON in CGCS2000 3° Gauss–Krüger says so in its `crs` member (as GDAL, QGIS and our
    exports write it): it lands right without --crs; a --crs that says otherwise is refused naming both, and
    nothing is written."""
    batch = codes(len(POINTS))
    document = orjson.loads(_geojson(batch, [TO_4548.transform(lon, lat) for lon, lat in POINTS]))
    document["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4548"}}
    path = tmp_path / "covers-4548.geojson"  # type: ignore[operator]
    path.write_bytes(orjson.dumps(document))
    refused = civicgrid(settings, "basedata", "import", "components", str(path), "--crs", "EPSG:4490")
    assert refused.returncode == 1, refused.stderr
    assert "covers-4548.geojson, crs: covers-4548.geojson says EPSG:4548 (its crs member), --crs says EPSG:4490" \
        in " ".join(refused.stderr.split())
    assert db.execute("SELECT count(*) FROM components WHERE code = ANY(%s)", (batch,)).fetchone() == (0,)
    done = civicgrid(settings, "basedata", "import", "components", str(path))
    assert done.returncode == 0, done.stderr
    assert "(EPSG:4548): 5 rows, 5 added" in done.stderr
    for code, point in zip(batch, POINTS, strict=True):
        assert metres_apart(_stored(db, code), point) < 0.5
