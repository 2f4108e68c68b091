"""Exports for the departments that ask for them (issue 20, item 6): the component and address databases as GeoJSON
and Excel in the CRS they work in, through the API and the CLI; an exported workbook, edited, imports back."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import orjson
import psycopg
import pytest
import shapely.wkt
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pyproj import Transformer

from civicgrid.settings import Settings
from tests.integration.basedata.support import POINTS, codes, xlsx
from tests.integration.test_cli_devices import civicgrid

pytestmark = pytest.mark.integration
Headers = Callable[[str], dict[str, str]]
TO_4548 = Transformer.from_crs("EPSG:4326", "EPSG:4548", always_xy=True)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _import(client: TestClient, admin: dict[str, str], batch: list[str]) -> None:
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(p)},
         "properties": {"code": c, "name": "路灯", "材质": "铸铁"}} for c, p in zip(batch, POINTS, strict=True)]}
    r = client.post("/basedata/components/import", params={"name": "lamps.geojson"}, content=orjson.dumps(doc),
                    headers={**admin, "Content-Type": "application/geo+json"})
    assert r.status_code == 200, r.text


def test_components_export_as_excel_in_epsg_4548_and_import_back(client: TestClient, as_user: Headers,
                                                                 db: psycopg.Connection) -> None:
    admin = as_user("api-admin")
    batch = codes(len(POINTS), "0201")
    _import(client, admin, batch)
    r = client.get("/basedata/export/components.xlsx", params={"crs": "EPSG:4548"}, headers=as_user("api-utilities"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX
    assert "filename*=UTF-8''%E9%83%A8%E4%BB%B6-EPSG4548-" in r.headers["content-disposition"]  # 部件-EPSG4548-…
    book = load_workbook(io.BytesIO(r.content))
    sheet = book["部件"]
    header = [c.value for c in sheet[1]]
    assert header[:12] == ["部件编码", "部件名称", "类别", "主管部门", "权属单位", "养护单位", "单元网格", "状态",
                           "数据来源", "初始日期", "东坐标", "北坐标"]
    ours = [list(row) for row in sheet.iter_rows(min_row=2, values_only=True) if row[0] in batch]
    assert [row[0] for row in ours] == sorted(batch)
    by_code = dict(zip(batch, POINTS, strict=True))
    for row in ours:
        easting, northing = TO_4548.transform(*by_code[row[0]])
        assert abs(row[10] - easting) < 0.001 and abs(row[11] - northing) < 0.001
        assert row[7] == "完好" and row[header.index("材质")] == "铸铁"
    assert [c.value for c in book["说明"][1]][:2] == ["坐标系 CRS", "EPSG:4548"]

    ours[0][1] = "路灯（已更换灯头）"  # the department's edit, sent back in the same CRS
    back = client.post("/basedata/components/import", params={"crs": "EPSG:4548", "name": "lamps-edited.xlsx"},
                       content=xlsx(header, ours), headers={**admin, "Content-Type": XLSX})
    assert back.status_code == 200, back.text
    assert (back.json()["updated"], back.json()["unchanged"]) == (1, len(POINTS) - 1)
    name = db.execute("SELECT name FROM components WHERE code = %s", (ours[0][0],)).fetchone()
    assert name == ("路灯（已更换灯头）",)


def test_geojson_exports_in_a_crs_and_roles(client: TestClient, as_user: Headers) -> None:
    admin = as_user("api-admin")
    batch = codes(len(POINTS), "0202")
    _import(client, admin, batch)
    r = client.get("/basedata/export/components.geojson", params={"crs": "EPSG:4548"}, headers=admin)
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    doc = r.json()
    assert doc["crs"] == {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4548"}}
    features = {f["properties"]["code"]: f for f in doc["features"]}
    for code, point in zip(batch, POINTS, strict=True):
        assert features[code]["geometry"]["coordinates"] == pytest.approx(list(TO_4548.transform(*point)), abs=0.001)
        assert features[code]["properties"]["材质"] == "铸铁"
    wgs = client.get("/basedata/export/components.geojson", headers=admin).json()
    assert "crs" not in wgs  # RFC 7946
    assert client.get("/basedata/export/addresses.geojson", headers=as_user("api-inspector")).status_code == 403


def test_cli_exports_addresses_as_excel_in_epsg_4548(settings: Settings, client: TestClient, as_user: Headers,
                                                     tmp_path: Path) -> None:
    road = f"导出{codes(1)[0][-6:]}路"
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(POINTS[2])},
         "properties": {"kind": "door_plate", "address": f"{road}8号"}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [list(POINTS[0]), list(POINTS[1])]},
         "properties": {"kind": "road_segment", "address": road, "number_from": 2, "number_to": 20,
                        "parity": "even"}}]}
    r = client.post("/basedata/addresses/import", content=orjson.dumps(doc),
                    headers={**as_user("api-admin"), "Content-Type": "application/geo+json"})
    assert r.status_code == 200, r.text
    out = tmp_path / "addresses.xlsx"
    done = civicgrid(settings, "basedata", "export", "addresses", "--out", str(out), "--crs", "EPSG:4548")
    assert done.returncode == 0, done.stderr
    sheet = load_workbook(out)["地址"]
    rows = {row[1]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    plate, segment = rows[f"{road}8号"], rows[road]
    assert (plate[0], segment[0], segment[6:]) == ("door_plate", "road_segment", (2, 20, "even"))
    assert plate[3:5] == pytest.approx(TO_4548.transform(*POINTS[2]), abs=0.001)
    line = shapely.wkt.loads(segment[5])
    assert list(line.coords[0]) == pytest.approx(list(TO_4548.transform(*POINTS[0])), abs=0.001)
