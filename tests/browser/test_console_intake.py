"""The intake side of the console in headless chromium, against the real stack (the API as a process, the real
database): the sources the board filters by are the API's own list (GET /sources); on the intake screen an operator
takes a call by address, picks a geocoding suggestion, is offered the open case it repeats and links to it, files a
new one, captures from a camera and files, links another body's transfer to the open case it repeats (shown with
that case's evidence), and a leader files an instruction — each case checked through the API for its cell and
source."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from civicgrid.store import cameras as camera_store
from civicgrid.store.addresses import AddressEntry, import_addresses
from tests.browser.conftest import Org, axe_critical

pytestmark = pytest.mark.e2e


def _headers(token, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(username)}"}


def test_the_board_filters_by_the_api_sources(org: Org, console_url: str, new_page, token) -> None:
    """The board's source filter offers the API's sources: a camera case is found by source camera (the board
    sent `video`, which the API refused) and shows its name, not the key `source.camera` — on the board and in the
    live feed, which names sources from the same list (sources.js)."""
    live = new_page(org.users["operator"])  # the map page, with the live feed
    live.wait_for_selector(".feed-status.live")
    with httpx.Client(base_url=console_url, timeout=20) as c:
        r = c.post("/cases", headers=_headers(token, org.users["operator"]), json={
            "category_code": "E0504", "source": "camera", "grid_cell_code": org.other_cell,
            "description": "店外经营（视频抓拍）"})
        assert r.status_code == 201, r.text
        camera_case = r.json()

    entry = live.locator(f".feed-entry.case-event[data-case='{camera_case['id']}'] .row.small")
    entry.wait_for(timeout=15_000)
    assert "视频抓拍" in entry.inner_text() and "source." not in entry.inner_text()

    page = new_page(org.users["operator"], "#/cases")
    page.wait_for_selector("#f-source option[value='camera']", state="attached")
    assert page.eval_on_selector_all("#f-source option", "els => els.map(e => e.value).filter(Boolean)") == \
        ["inspector", "camera", "hotline", "leader", "transfer", "sensor"]
    page.select_option("#f-source", "camera")
    page.fill("#f-cell", org.other_cell)
    page.click(".filters button[type=submit]")
    # The new case may already be on the unfiltered board: wait for the filtered list itself (every row a camera's).
    page.wait_for_function("""() => {
        const cells = [...document.querySelectorAll('table.case-list tbody tr td:nth-child(5)')];
        return cells.length > 0 && cells.every(td => td.textContent === '视频抓拍');
    }""")
    page.locator(f"tr[data-case='{camera_case['id']}']").wait_for()
    assert page.locator(".board .error").count() == 0
    sources = page.eval_on_selector_all("table.case-list tbody tr td:nth-child(5)",
                                        "els => els.map(e => e.textContent)")
    assert sources and set(sources) == {"视频抓拍"}
    # The list the board offered is the API's own.
    listed = httpx.get(f"{console_url}/sources", headers=_headers(token, org.users["operator"]), timeout=20)
    assert listed.status_code == 200, listed.text
    assert [(s["code"], s["name"]) for s in listed.json()][1] == ("camera", "视频抓拍")


def _road() -> str:
    draw = uuid.uuid4().int
    return "".join("甲乙丙丁戊己庚辛壬癸"[(draw >> (4 * i)) % 10] for i in range(5)) + "巷"


def _case(console_url: str, token, username: str, case_id: str) -> dict:
    r = httpx.get(f"{console_url}/cases/{case_id}", headers=_headers(token, username), timeout=20)
    assert r.status_code == 200, r.text
    return r.json()


def _pick_suggestion(page, prefix: str, typed: str, address: str, cell: str) -> None:
    page.fill(f"#{prefix}-address", typed)
    page.click(f".suggestion[data-address='{address}']")
    page.wait_for_selector(f"#{prefix}-place-state[data-cell='{cell}']")


def _pick_category(page, prefix: str, typed: str, code: str) -> None:
    page.fill(f"#{prefix}-category", typed)
    page.click(f".category-option[data-code='{code}']")


def test_an_operator_takes_calls_files_a_capture_and_a_leader_an_instruction(
        org: Org, console_url: str, new_page, token, db, provision, artifacts: Path) -> None:
    # Door plates in the console test's two cells, and an open case at the first one (the duplicate to offer).
    road = _road()
    here, there = f"{road}7号", f"{road}8号"
    other_lon = org.lon + 0.001
    import_addresses(db, [AddressEntry("door_plate", here, {"type": "Point", "coordinates": [org.lon, org.lat]}),
                          AddressEntry("door_plate", there, {"type": "Point",
                                                             "coordinates": [other_lon, org.lat]})])
    r = httpx.post(f"{console_url}/cases", headers=_headers(token, org.users["inspector"]), timeout=20, json={
        "category_code": "E0507", "description": "门口堆满建材", "lon": org.lon, "lat": org.lat})
    assert r.status_code == 201, r.text
    existing = r.json()

    page = new_page(org.users["operator"], "#/intake/call")
    page.wait_for_selector("#call-form")
    page.wait_for_selector("#call-map[data-ready='true']", timeout=60_000)
    assert axe_critical(page) == []
    # 1. A call about the same heap: picked from the suggestions (七号 as said), offered the open case, linked.
    page.fill("#call-name", "赵先生")
    page.fill("#call-phone", "13800000123")
    page.check("#call-callback")
    _pick_suggestion(page, "call", f"{road}七号", here, org.cell)
    _pick_category(page, "call", "ldwdl", "E0507")  # 乱堆物堆料 by its pinyin initials
    page.fill("#call-description", "又堆了一车砖")
    offered = page.locator(f".duplicates li[data-case='{existing['id']}']")
    offered.wait_for()
    assert page.inner_text("#call-submit") == "作为新案件提交"
    offered.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "intake-call-duplicate.png"))  # docs/img/console-intake.png
    offered.locator("button.link-case").click()
    page.wait_for_selector(f".filed[data-linked='true'][data-case-id='{existing['id']}']")
    page.screenshot(path=str(artifacts / "intake-call-linked.png"), full_page=True)
    callers = db.execute("SELECT channel, name, phone, callback, linked FROM case_callers WHERE case_id = %s",
                         (existing["id"],)).fetchall()
    assert callers == [("hotline", "赵先生", "13800000123", True, True)]

    # 2. A new call at the other door plate: nothing to repeat there, filed as a hotline case in that cell.
    page.fill("#call-name", "钱女士")
    _pick_suggestion(page, "call", there, there, org.other_cell)
    _pick_category(page, "call", "暴露垃圾", "E0102")
    page.fill("#call-description", "垃圾桶旁暴露垃圾")
    assert page.locator(".duplicates").count() == 0
    page.click("#call-submit")
    filed = page.locator(".filed[data-linked='false']")
    filed.wait_for()
    call = _case(console_url, token, org.users["operator"], filed.get_attribute("data-case-id"))
    assert (call["source"], call["grid_cell_code"], call["category_code"]) == ("hotline", org.other_cell, "E0102")

    # 3. Capture and file from a camera's latest snapshot, the region drawn by two clicks.
    device_id, _ = provision("camera")
    camera_store.upsert_camera(db, device_id, name="测试路口", onvif_url="http://127.0.0.1:18298", username="admin",
                               password_ref="secrets:" + device_id, lon=org.lon, lat=org.lat, image_width=320,
                               image_height=240)
    db.execute("UPDATE devices SET grid_cell_code = %s WHERE id = %s", (org.cell, device_id))
    jpeg = cv2.imencode(".jpg", np.full((240, 320, 3), (90, 140, 90), np.uint8))[1].tobytes()
    now = datetime.now(UTC)
    camera_store.record_status(db, device_id, reachable=True, last_snapshot_at=now, last_event_at=None,
                               last_error=None, detail={}, snapshot=jpeg, snapshot_at=now)
    page.click("#tab-capture")
    page.wait_for_selector(f"#capture-camera option[value='{device_id}']", state="attached")
    page.select_option("#capture-camera", device_id)
    snapshot = page.locator("svg.capture-snapshot")
    page.wait_for_selector("svg.capture-snapshot image", state="attached")
    box = snapshot.bounding_box()
    snapshot.click(position={"x": box["width"] * 0.25, "y": box["height"] * 0.25})
    snapshot.click(position={"x": box["width"] * 0.75, "y": box["height"] * 0.75})
    page.wait_for_selector("svg.capture-snapshot polygon.region", state="attached")
    _pick_category(page, "capture", "dwjy", "E0504")  # 店外经营
    page.fill("#capture-description", "店外占道经营")
    page.click("#capture-submit")
    filed = page.locator("#capture-form .filed")
    filed.wait_for()
    capture = _case(console_url, token, org.users["operator"], filed.get_attribute("data-case-id"))
    assert (capture["source"], capture["grid_cell_code"]) == ("camera", org.cell)
    region = capture["evidence"][0]["data"]["capture"]["region"]
    assert region[0] == pytest.approx([80, 60], abs=3) and region[2] == pytest.approx([240, 180], abs=3)
    page.screenshot(path=str(artifacts / "intake-capture.png"), full_page=True)
    # The same stall seen again by the camera: the capture just filed is offered, and linking puts the snapshot on it.
    snapshot.click(position={"x": box["width"] * 0.3, "y": box["height"] * 0.3})
    snapshot.click(position={"x": box["width"] * 0.7, "y": box["height"] * 0.7})
    _pick_category(page, "capture", "dwjy", "E0504")
    page.fill("#capture-description", "又在店外摆摊")
    again = page.locator(f"#capture-form .duplicates li[data-case='{capture['id']}']")
    again.wait_for()
    assert page.inner_text("#capture-submit") == "作为新案件提交"
    again.locator("button.link-case").click()
    page.wait_for_selector(f"#capture-form .filed[data-linked='true'][data-case-id='{capture['id']}']")
    assert db.execute("SELECT channel, linked FROM case_callers WHERE case_id = %s",
                      (capture["id"],)).fetchall() == [("camera", True)]
    (report_id,) = db.execute("SELECT source_record_id FROM case_evidence WHERE case_id = %s AND kind = 'report' "
                              "AND data ->> 'description' = '又在店外摆摊'", (capture["id"],)).fetchone()
    assert db.execute("SELECT data ->> 'media_id' FROM case_evidence WHERE case_id = %s AND kind = 'photo' "
                      "AND data ->> 'report' = %s", (capture["id"], report_id)).fetchall() == \
        [(hashlib.sha256(jpeg).hexdigest(),)]

    # 3b. The 12345 centre transfers the heap of step 1: offered, linked; the body (told on close, as it asked) and
    # its reference are kept on that case and shown with its evidence.
    page.click("#tab-transfer")
    page.fill("#transfer-from_body", "县12345政务服务热线")
    page.fill("#transfer-reference", "ZB-2026-004321")
    page.fill("#transfer-contact_phone", "0564-8888888")
    page.check("#transfer-callback")
    page.fill("#transfer-description", "群众反映门口堆满建材")
    _pick_suggestion(page, "transfer", here, here, org.cell)
    _pick_category(page, "transfer", "ldwdl", "E0507")
    page.locator(f"#transfer-form .duplicates li[data-case='{existing['id']}'] button.link-case").click()
    page.wait_for_selector(f"#transfer-form .filed[data-linked='true'][data-case-id='{existing['id']}']")
    assert db.execute("SELECT channel, name, phone, account_id, callback, linked FROM case_callers WHERE case_id = %s "
                      "AND channel = 'transfer'", (existing["id"],)).fetchall() == \
        [("transfer", "县12345政务服务热线", "0564-8888888", "ZB-2026-004321", True, True)]
    page.evaluate(f"location.hash = '#/cases/{existing['id']}'")
    shown = page.locator(".evidence .referral[data-reference='ZB-2026-004321']")
    shown.wait_for()
    assert "县12345政务服务热线" in shown.inner_text()

    # 4. A leader files an instruction; it lands in the cell of the address picked.
    leader = new_page(org.users["leader"], "#/intake")
    leader.wait_for_selector("#instruction-form")
    assert leader.locator("#tab-call").count() == 0  # a leader's intake is the instruction alone
    leader.fill("#instruction-leader", "孙县长")
    leader.fill("#instruction-instruction", "请尽快清理该处堆物")
    _pick_suggestion(leader, "instruction", there, there, org.other_cell)
    _pick_category(leader, "instruction", "乱堆", "E0507")
    leader.click("#instruction-submit")
    filed = leader.locator("#instruction-form .filed")
    filed.wait_for()
    instruction = _case(console_url, token, org.users["operator"], filed.get_attribute("data-case-id"))
    assert (instruction["source"], instruction["grid_cell_code"], instruction["description"]) == \
        ("leader", org.other_cell, "请尽快清理该处堆物")


def test_an_unlocated_call_is_placed_from_the_list(org: Org, console_url: str, new_page, token, db) -> None:
    """A call whose address does not resolve waits in the unlocated list; the operator gives the better address
    the caller remembered, then corrects the point by clicking the map, and places it: the case has the cell."""
    road = _road()
    plate = f"{road}3号"
    import_addresses(db, [AddressEntry("door_plate", plate, {"type": "Point", "coordinates": [org.lon, org.lat]})])
    r = httpx.post(f"{console_url}/cases/calls", headers=_headers(token, org.users["operator"]), timeout=20, json={
        "caller_name": "周先生", "category_code": "E0102", "description": "有垃圾",
        "address": f"{road}那个菜市场后面"})
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["grid_cell_code"] is None

    # The case detail says it is unlocated (no reverse geocoding without a point) and points to the list.
    page = new_page(org.users["operator"], f"#/cases/{case['id']}")
    page.wait_for_selector(f".detail[data-case='{case['id']}'] .unlocated-flag a[href='#/intake/unlocated']")
    page.wait_for_selector(f"tr[data-case='{case['id']}'] td .unlocated-flag")  # and on the board, for its cell
    assert page.locator(".detail .nearest").count() == 0
    page.evaluate("location.hash = '#/intake/unlocated'")
    row = page.locator(f".unlocated tr[data-case='{case['id']}']")
    row.locator("button.choose").click()
    page.wait_for_selector("#unlocated-map[data-ready='true']", timeout=60_000)
    _pick_suggestion(page, "unlocated", plate, plate, org.cell)
    page.wait_for_selector(f"#unlocated-map[data-centre='{org.lon:.5f},{org.lat:.5f}']")
    page.click("#unlocated-map canvas")  # the map's centre: the point itself, give or take a pixel (≈ 2 m)
    page.wait_for_selector(f"#unlocated-place-state[data-picked='true'][data-cell='{org.cell}']")
    page.click("#place-submit")
    page.wait_for_selector(f".placed[data-case-id='{case['id']}']")
    page.wait_for_selector(f".unlocated tr[data-case='{case['id']}']", state="detached")  # the list reloaded
    placed = _case(console_url, token, org.users["operator"], case["id"])
    assert placed["grid_cell_code"] == org.cell and placed["source"] == "hotline"
    assert placed["lon"] == pytest.approx(org.lon, abs=1e-4) and placed["lat"] == pytest.approx(org.lat, abs=1e-4)
    # Placed: beside the case, the nearest address and the cell of its point, and no unlocated flag.
    page.evaluate(f"location.hash = '#/cases/{case['id']}'")
    shown = page.wait_for_selector(f".detail[data-case='{case['id']}'] .nearest[data-cell='{org.cell}']")
    nearest = placed["nearest"]  # other tests' plates share the point: the nearest is one of them, a few metres off
    assert nearest["address_distance_m"] < 5 and shown.get_attribute("data-address") == nearest["address"]
    assert nearest["address"] in shown.text_content()
    assert page.locator(".detail .unlocated-flag").count() == 0
