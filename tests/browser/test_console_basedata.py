"""The base-data page in a real browser against `civicgrid api`: an admin finds the package's cover, edits it and
sees the change in its history; uploads a CSV in EPSG:4548 (and a bad one, refused with its row and field);
downloads the components as Excel in EPSG:4548."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator

import pytest
from openpyxl import load_workbook
from pyproj import Transformer

from api.users import create_user
from tests.browser.conftest import PASSWORD, Org, axe_critical


@pytest.fixture
def admin(org: Org, db) -> Iterator[str]:
    name = f"ui-admin-{org.suffix}"
    if db.execute("SELECT 1 FROM users WHERE username = %s", (name,)).fetchone() is None:
        create_user(db, name, "admin", password=PASSWORD, display_name="基础数据管理员")
    db.execute("UPDATE users SET enabled = true WHERE username = %s", (name,))
    yield name
    db.execute("UPDATE users SET enabled = false WHERE username = %s", (name,))


def test_an_admin_edits_a_component_and_sees_its_history(org: Org, admin: str, new_page, db, artifacts) -> None:
    page = new_page(admin, "#/basedata")
    page.fill("#bd-q", org.component)
    page.click(f"#bd-list tr[data-code='{org.component}'] button")
    page.wait_for_selector(f"#bd-component[data-code='{org.component}']")
    page.select_option("#bd-e-state", "damaged")
    page.fill("#bd-e-maint", "县排水养护所")
    page.fill("#bd-e-reason", "巡查核对：井盖破损")
    page.click("#bd-edit button[type=submit]")
    row = page.locator("#bd-history tr[data-action=edit]")
    row.wait_for()
    text = row.inner_text()
    assert "巡查核对：井盖破损" in text and admin in text
    assert "状态: 完好 → 破损" in text and "养护单位: — → 县排水养护所" in text
    assert page.inner_text("#bd-component [data-field=state]") == "破损"
    assert axe_critical(page) == []
    page.screenshot(path=str(artifacts / "console-basedata.png"), full_page=True)
    db.execute("UPDATE components SET state = 'intact', state_case_id = NULL WHERE code = %s", (org.component,))


def test_an_admin_imports_in_epsg_4548_and_downloads_an_export(org: Org, admin: str, new_page, db,
                                                                tmp_path) -> None:
    code = f"3415230103{random.randrange(10**6):06d}"
    easting, northing = Transformer.from_crs("EPSG:4326", "EPSG:4548", always_xy=True).transform(org.lon, org.lat)
    good = tmp_path / "covers.csv"
    good.write_text(f"部件编码,部件名称,东坐标,北坐标\n{code},雨水井盖,{easting:.3f},{northing:.3f}\n",
                    encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text(f"部件编码,东坐标,北坐标,状态\n{code},{easting:.3f},{northing:.3f},坏了\n", encoding="utf-8")
    page = new_page(admin, "#/basedata")
    page.select_option("#bd-i-crs", "EPSG:4548")
    page.set_input_files("#bd-i-file", str(bad))
    page.click("#bd-import button[type=submit]")
    assert "row 2, state" in page.locator("#bd-import-errors li").first.inner_text()
    page.set_input_files("#bd-i-file", str(good))
    page.click("#bd-import button[type=submit]")
    page.wait_for_selector("#bd-import-result")
    lon, lat = db.execute("SELECT lon, lat FROM components WHERE code = %s", (code,)).fetchone()
    assert abs(lon - org.lon) < 1e-5 and abs(lat - org.lat) < 1e-5  # ≈ 1 m; the API tests check 0.5 m exactly

    with page.expect_download() as info:
        page.click("#bd-export button[type=submit]")
    data = tmp_path / "export.xlsx"
    info.value.save_as(str(data))
    sheet = load_workbook(io.BytesIO(data.read_bytes()))["部件"]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows[code][1] == "雨水井盖" and abs(rows[code][10] - easting) < 0.01


def test_an_admin_adds_one_component_by_hand(org: Org, admin: str, new_page, db) -> None:
    """The add form: a code, a name, a point in WGS 84 and why; the new component is selected, in the cell under
    its point, its history starting with the `add` and its reason; the same code again is refused (409)."""
    code = f"3415230101{random.randrange(10**6):06d}"
    page = new_page(admin, "#/basedata")
    page.fill("#bd-a-code", code)
    page.fill("#bd-a-name", "上水井盖")
    page.fill("#bd-a-a", f"{org.lon:.7f}")
    page.fill("#bd-a-b", f"{org.lat:.7f}")
    page.fill("#bd-a-reason", "新建道路竣工测量")
    page.click("#bd-add button[type=submit]")
    page.wait_for_selector(f"#bd-component[data-code='{code}']")
    row = page.locator("#bd-history tr[data-action=add]")
    row.wait_for()
    assert "新建道路竣工测量" in row.inner_text() and admin in row.inner_text()
    assert page.locator(f"#bd-list tr[data-code='{code}']").count() == 1
    assert db.execute("SELECT name, grid_cell_code, state FROM components WHERE code = %s", (code,)).fetchone() == \
        ("上水井盖", org.cell, "intact")
    assert page.input_value("#bd-a-code") == ""  # the form is empty for the next one
    page.fill("#bd-a-code", code)
    page.fill("#bd-a-a", f"{org.lon:.7f}")
    page.fill("#bd-a-b", f"{org.lat:.7f}")
    page.fill("#bd-a-reason", "重复录入")
    page.click("#bd-add button[type=submit]")
    page.wait_for_selector("#bd-add .error")
    assert axe_critical(page) == []
