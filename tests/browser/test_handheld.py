"""The inspector's handheld web app (城管通, docs/handheld.md) on a phone-sized Chromium with emulated GPS.

A shift leader pairs the phone in the console (the QR code's link), the phone reports with a photo while
offline, and once back online the report reaches the platform over MQTT on WebSockets through the gateway
like any handheld's: the case is in the database, in the cell under the phone's GPS, exactly once. Second, the
app is installable and starts with no server at all: manifest, icons, service worker, start page from cache.
"""

from __future__ import annotations

import hashlib
import socket
import struct
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone

import cv2
import httpx
import numpy as np
import pytest

from api.users import create_user
from civicgrid.settings import Settings
from tests.browser.conftest import PASSWORD, Org, axe_critical
from tests.support.photos import label_photo
from tests.support.services import start_api, stop_service, wait_for
from tests.support.stack import free_ports

pytestmark = pytest.mark.e2e

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True,
         "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}


def _pixel_bomb() -> bytes:
    """A PNG whose header declares 60,000 × 60,000 pixels: the API refuses it for good (415), never decodes it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 60_000, 60_000, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _photo(text: str) -> bytes:
    img = np.full((480, 640, 3), (90, 90, 95), np.uint8)
    cv2.putText(img, text, (20, 240), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
    ok, jpeg = cv2.imencode(".jpg", img)
    assert ok
    return jpeg.tobytes()


def _shown(page, selector: str, count: int = 1) -> list[tuple[int, int]]:
    """The sizes of the `count` images at `selector` once all are decoded (a task's photos come after its text)."""
    page.wait_for_function("([sel, n]) => { const all = [...document.querySelectorAll(sel)]; "
                           "return all.length === n && all.every((i) => i.complete && i.naturalWidth > 0); }",
                           arg=[selector, count], timeout=30_000)
    return [tuple(size) for size in page.eval_on_selector_all(selector, "els => els.map(e => [e.naturalWidth, "
                                                                          "e.naturalHeight])")]


@pytest.fixture
def phone(browser, org: Org) -> Iterator[Callable[..., object]]:
    contexts = []

    def make():
        ctx = browser.new_context(**PHONE, geolocation={"longitude": org.lon, "latitude": org.lat, "accuracy": 8},
                                  permissions=["geolocation", "microphone"])
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(30_000)
        return ctx, page

    yield make
    for ctx in contexts:
        ctx.close()


def test_paired_phone_reports_offline_and_the_case_arrives_once_online(
        worker, gateway, org: Org, console_url: str, new_page, phone, token, sql) -> None:
    # Pairing is the supervisor's: an inspector may not pair, and only an inspector can be paired.
    inspector = org.users["inspector"]
    refused = httpx.post(f"{console_url}/handhelds/pairings", json={"inspector": inspector},
                         headers={"Authorization": f"Bearer {token(inspector)}"}, timeout=10)
    assert refused.status_code == 403
    not_inspector = httpx.post(f"{console_url}/handhelds/pairings", json={"inspector": org.users["operator"]},
                               headers={"Authorization": f"Bearer {token(org.users['shift_leader'])}"}, timeout=10)
    assert not_inspector.status_code == 422

    console = new_page(org.users["shift_leader"], "#/devices")
    console.fill("#pair-inspector", inspector)
    console.click(".handheld-pairing button[type=submit]")
    console.wait_for_selector(".handheld-pairing .qr svg")
    link = console.get_attribute("#pair-link", "href")
    device_id = console.get_attribute(".handheld-pairing .pairing", "data-device")
    assert link and "#pair=" in link and device_id
    assert sql("SELECT kind, inspector_user_id IS NOT NULL FROM devices WHERE id = %s",
               device_id) == [("handheld", True)]

    ctx, page = phone()
    page.goto(link)
    page.wait_for_selector("#hh-status[data-status='connected']", timeout=60_000)
    assert "#pair=" not in page.url  # the secret left the address bar
    page.wait_for_selector("#hh-gps[data-accuracy='8']")
    page.wait_for_selector(f"#hh-cell[data-cell='{org.cell}']")  # the cell under the phone, before it reports
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    assert axe_critical(page) == []
    # Chinese by default; every touch target at least 48 CSS px high (one thumb, a moving inspector).
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.text_content("#hh-submit") == "上报"
    # (a photo input or a check box is touched through its label)
    heights = page.evaluate("[...document.querySelectorAll('button, label.button, label.check, input[type=search], "
                            "textarea')].map((e) => e.getBoundingClientRect().height)")
    assert heights and min(heights) >= 48, heights

    ctx.set_offline(True)
    page.wait_for_selector("#hh-status[data-status='offline']")
    # First a report whose photo the API will refuse for good: it is set aside, it does not hold the queue up.
    page.fill("#hh-category", "E0103")
    page.click(".option[data-code='E0103']")
    page.set_input_files("#hh-photo", files=[{"name": "b.png", "mimeType": "image/png", "buffer": _pixel_bomb()}])
    page.wait_for_selector(".thumbs img")
    page.click("#hh-submit")
    page.wait_for_selector("#hh-pending[data-count='1']")
    page.fill("#hh-category", "bllj")  # pinyin initials of 暴露垃圾
    page.click(".option[data-code='E0102']")
    jpeg = _photo(f"handheld {device_id}")
    page.set_input_files("#hh-photo", files=[{"name": "p.jpg", "mimeType": "image/jpeg", "buffer": jpeg}])
    page.wait_for_selector(".thumbs img")
    page.fill("#hh-description", "路口垃圾堆放")
    page.click("#hh-voice")  # a voice note (the fake microphone's tone), recorded while offline like the photo
    page.wait_for_selector("#hh-voice[aria-pressed='true']")
    page.wait_for_timeout(1000)
    page.click("#hh-voice")
    page.wait_for_selector("#hh-voices audio")
    page.click("#hh-submit")
    page.wait_for_selector("#hh-message")
    page.wait_for_selector("#hh-pending[data-count='2']")
    page.click("#tab-queue")
    refused_id, report_id = (li.get_attribute("data-id") for li in
                             page.query_selector_all("#hh-queue li[data-state='pending']")[::-1])
    source = f"report:{device_id}:{report_id}"
    assert sql("SELECT 1 FROM cases WHERE source_record_id = %s", source) == []
    # The phone restarts the app while still offline: the queue, photos included, is on the phone.
    page.reload()
    page.wait_for_selector("#hh-status[data-status='offline']")
    page.wait_for_selector("#hh-pending[data-count='2']")
    page.click("#tab-queue")
    page.wait_for_selector(f"#hh-queue li[data-id='{report_id}'][data-state='pending']")

    ctx.set_offline(False)
    page.wait_for_selector(f"#hh-queue li[data-id='{report_id}'][data-state='sent']", timeout=90_000)
    assert page.get_attribute(f"#hh-queue li[data-id='{refused_id}']", "data-state") == "failed"
    assert "415" in page.text_content(f"#hh-queue li[data-id='{refused_id}'] .error")
    # The report is evidence on its case exactly once: a case of its own, or, when an earlier test left an open
    # E0102 case in this cell, that case (the platform merges a report into the open case of its category and cell).
    row = wait_for(lambda: sql("SELECT c.category_code, c.grid_cell_code, e.data ->> 'description' "
                               "FROM case_evidence e JOIN cases c ON c.id = e.case_id WHERE e.source_record_id = %s",
                               source), 60, "the handheld's report on a case", log=worker[1])
    assert row == [("E0102", org.cell, "路口垃圾堆放")]
    photo_id = hashlib.sha256(jpeg).hexdigest()  # taken at 640×480: uploaded as taken, named by its SHA-256
    assert sql("SELECT u.username FROM media m JOIN users u ON u.id = m.uploaded_by WHERE m.id = %s",
               photo_id) == [(inspector,)]
    # The voice note went the same way: uploaded as the inspector, evidence of its own on the case.
    voices = sql("SELECT m.content_type, m.size_bytes, u.username FROM case_evidence e "
                 "JOIN media m ON m.id = e.data ->> 'media_id' JOIN users u ON u.id = m.uploaded_by "
                 "WHERE e.kind = 'voice' AND e.data ->> 'report' = %s", source)
    assert len(voices) == 1 and voices[0][0] in ("audio/ogg", "audio/webm") and voices[0][1] > 1000, voices
    assert voices[0][2] == inspector
    assert page.get_attribute("#hh-pending", "data-count") == "0"
    assert sql("SELECT count(*) FROM case_evidence WHERE source_record_id = %s", source) == [(1,)]
    assert sql("SELECT 1 FROM case_evidence WHERE source_record_id = %s", f"report:{device_id}:{refused_id}") == []
    # The operators see it on their board, in the cell under the phone (the shift leader's console that paired it).
    (case_id,) = sql("SELECT case_id::text FROM case_evidence WHERE source_record_id = %s", source)[0]
    console.goto(console.url.split("#")[0] + f"#/cases?cell_prefix={org.cell}")
    row = console.wait_for_selector(f"tr[data-case='{case_id}']")
    assert org.cell in row.inner_text() and "E0102" in row.inner_text()
    # The patrol track went the same way (its first point as soon as the phone had a fix), and it plays back
    # in the console's patrol page as any tracker's does.
    wait_for(lambda: sql("SELECT lon, lat FROM track_points WHERE device_id = %s", device_id), 60, "a track point")
    console.goto(console.url.split("#")[0] + "#/patrol")
    console.wait_for_function("(id) => [...document.querySelectorAll('#p-device option')].some(o => o.value === id)",
                              arg=device_id)  # (option values are properties, not attributes)
    console.select_option("#p-device", device_id)
    city = datetime.now(timezone(timedelta(hours=8)))
    console.fill("#p-start", (city - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    console.fill("#p-end", (city + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
    console.click("button:has-text('加载')")
    slider = console.wait_for_selector("#p-slider")
    points = int(slider.get_attribute("max") or -1) + 1
    assert points >= 1 and console.locator(f".small:has-text('{points} ')").count() >= 1

    # The phone's clock runs a day fast: the broker acknowledges the report, the gateway refuses it
    # (clock_future), and its notice on the phone's own cg/<id>/refused sets the report aside as refused.
    page.clock.set_system_time(datetime.now(UTC) + timedelta(days=1))
    # (a refusal's long reason wraps: it once widened the page, and the phone zoomed the tab bar out of sight)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.click("#tab-report")
    page.fill("#hh-category", "bllj")
    page.click(".option[data-code='E0102']")
    page.click("#hh-submit")
    page.click("#tab-queue")
    late = page.get_attribute("#hh-queue li", "data-id")  # the newest first
    assert late not in (report_id, refused_id)
    page.wait_for_selector(f"#hh-queue li[data-id='{late}'][data-state='failed']", timeout=60_000)
    assert "clock_future" in page.text_content(f"#hh-queue li[data-id='{late}'] .error")
    assert page.get_attribute("#hh-pending", "data-count") == "0"  # not waiting to be sent again
    assert sql("SELECT 1 FROM case_evidence WHERE source_record_id = %s", f"report:{device_id}:{late}") == []


def test_the_phone_offers_an_open_case_nearby_and_links_the_report_to_it(
        org: Org, console_url: str, phone, token, sql) -> None:
    """Online, with the category chosen, the phone asks GET /duplicates as its inspector: the open case of that
    category 10 m away is offered, and 关联到此案件 puts the report's words and photo on it; nothing is queued."""
    inspector = org.users["inspector"]
    paired = httpx.post(f"{console_url}/handhelds/pairings", json={"inspector": inspector}, timeout=10,
                        headers={"Authorization": f"Bearer {token(org.users['shift_leader'])}"})
    assert paired.status_code == 201, paired.text
    case = httpx.post(f"{console_url}/cases", timeout=10, headers={"Authorization": f"Bearer {token(inspector)}"},
                      json={"category_code": "E0506", "description": "占道废品收购",
                            "lon": org.lon, "lat": org.lat + 10 / 111_000})
    assert case.status_code == 201, case.text
    case_id, case_no = case.json()["id"], case.json()["case_no"]

    _, page = phone()
    page.goto(paired.json()["link"])
    page.wait_for_selector("#hh-gps[data-accuracy='8']")
    page.fill("#hh-category", "E0506")
    page.click(".option[data-code='E0506']")
    page.wait_for_selector(f"#hh-duplicates li[data-case='{case_id}']")
    assert case_no in page.text_content("#hh-duplicates")
    jpeg = _photo(f"duplicate {case_no}")
    page.set_input_files("#hh-photo", files=[{"name": "d.jpg", "mimeType": "image/jpeg", "buffer": jpeg}])
    page.wait_for_selector(".thumbs img")
    page.fill("#hh-description", "废品还堆在人行道上")
    page.click(f"#hh-duplicates li[data-case='{case_id}'] .hh-link")
    page.wait_for_selector("#hh-message")
    assert case_no in page.text_content("#hh-message")
    assert page.query_selector("#hh-duplicates") is None  # the form is empty again
    assert page.get_attribute("#hh-pending", "data-count") == "0"  # linked, not queued
    assert sql("SELECT channel, client, linked FROM case_callers WHERE case_id = %s", case_id) == \
        [("inspector", inspector, True)]
    assert sql("SELECT e.data ->> 'description' FROM case_evidence e WHERE e.case_id = %s AND e.kind = 'report' "
               "AND e.data ? 'linked'", case_id) == [("废品还堆在人行道上",)]
    assert sql("SELECT data ->> 'media_id' FROM case_evidence WHERE case_id = %s AND kind = 'photo'",
               case_id) == [(hashlib.sha256(jpeg).hexdigest(),)]


def test_verification_and_check_tasks_reach_the_phone_and_their_answers_move_the_case(
        worker, gateway, org: Org, console_url: str, phone, token, sql, db) -> None:
    username = f"ui-phone-{org.suffix}"
    inspector, _ = create_user(db, username, "inspector", responsibility_grid_id=org.grid, password=PASSWORD,
                               display_name="王监督员")
    # Today's plan (docs/patrol.md): the phone's card shows it, and the coverage the patrol consumer counts.
    today = datetime.now(timezone(timedelta(hours=8))).date()
    db.execute("INSERT INTO patrol_plans (inspector_user_id, responsibility_grid_id, window_start, window_end, "
               "valid_from) VALUES (%s, %s, '08:00', '17:30', %s)", (inspector.id, org.grid, today))
    try:
        supervisor = {"Authorization": f"Bearer {token(org.users['shift_leader'])}"}
        paired = httpx.post(f"{console_url}/handhelds/pairings", json={"inspector": username}, headers=supervisor,
                            timeout=20)
        assert paired.status_code == 201, paired.text
        device_id = paired.json()["device_id"]
        ctx, page = phone()
        page.goto(paired.json()["link"])
        page.wait_for_selector("#hh-status[data-status='connected']", timeout=60_000)
        assert page.text_content("header .who") == "王监督员"
        # The patrol card, read with the device's own credentials: the plan, and the coverage the worker's patrol
        # consumer counted from the phone's own track (it stands still: the figures stay as first counted).
        counted = wait_for(lambda: sql("SELECT plan_met_pct, segments_met, segments_required, cells_visited "
                                       "FROM patrol_coverage WHERE inspector_user_id = %s AND day = %s",
                                       inspector.id, today), 60, "the phone's track counted", log=worker[1])
        pct, met, required, cells = counted[0]
        page.click("#tab-patrol")
        page.wait_for_selector("#hh-coverage:not([data-updated=''])")
        assert page.get_attribute("#hh-coverage", "data-pct") == f"{pct:g}"
        assert page.text_content("#hh-segments") == f"{met}/{required}"
        assert f"经过单元网格 {cells}" in page.text_content("#hh-coverage")
        assert "08:00–17:30" in page.text_content("#hh-plan")

        operator = httpx.Client(base_url=console_url, timeout=20,
                                headers={"Authorization": f"Bearer {token(org.users['operator'])}"})
        address = f"城关镇测试路 {org.suffix} 号"
        r = operator.post("/cases/calls", json={"category_code": "E0102", "description": "路口有垃圾堆放",
                                                "grid_cell_code": org.cell, "lon": org.lon, "lat": org.lat,
                                                "address": address})
        assert r.status_code == 201, r.text
        case_id = r.json()["id"]
        # The operator's photo of the place goes with the task (the caller sent it by WeChat).
        sent_photo = _photo(f"call {case_id}")
        r = operator.post("/media", files={"file": ("call.jpg", sent_photo, "image/jpeg")})
        assert r.status_code == 201, r.text
        # The task is sent while the phone is in a basement: the broker keeps it for the phone's session.
        ctx.set_offline(True)
        page.wait_for_selector("#hh-status[data-status='offline']")
        r = operator.post(f"/cases/{case_id}/send-verify", json={"inspector_user_id": inspector.id,
                                                                 "media_ids": [r.json()["id"]]})
        assert r.status_code == 200, r.text
        assert r.json()["timeline"][-1]["data"]["task"]["device_id"] == device_id
        wait_for(lambda: sql("SELECT 1 FROM device_commands WHERE device_id = %s AND status = 'sent'", device_id),
                 60, "the task published to the broker")
        page.click("#tab-tasks")
        assert page.text_content(".tasks .empty")  # nothing has reached the phone yet
        ctx.set_offline(False)

        task = f"#hh-tasks li[data-task='{case_id}']"
        # The card shows the case's place (address, cell, point) and its photo, read with the device's credentials.
        place = page.wait_for_selector(f"{task} .place[data-cell='{org.cell}']", timeout=60_000)
        assert address in place.text_content() and f"{org.lon:.5f}, {org.lat:.5f}" in place.text_content()
        assert _shown(page, f"{task} .case-photos img") == [(640, 480)]
        jpeg = _photo(f"verify {case_id}")
        page.set_input_files(f"{task} input.task-photo",
                             files=[{"name": "v.jpg", "mimeType": "image/jpeg", "buffer": jpeg}])
        page.wait_for_selector(f"{task} .answer-photos img")
        page.click(f"{task} button[data-result='confirmed']")
        detail = wait_for(lambda: (d := operator.get(f"/cases/{case_id}").json())["state"] == "reported" and d,
                          60, "the verification answer applied", log=worker[1])
        confirm = detail["timeline"][-1]
        assert (confirm["action"], confirm["actor"], confirm["role"]) == ("confirm", username, "inspector")
        photos = [e["data"]["media_id"] for e in detail["evidence"] if e["kind"] == "photo" and e["device_id"]]
        assert photos == [hashlib.sha256(jpeg).hexdigest()], detail["evidence"]  # (beside the operator's)
        assert wait_for(lambda: sql("SELECT status FROM device_commands WHERE device_id = %s AND status = 'acked'",
                                    device_id), 30, "the task acknowledged") == [("acked",)]
        page.wait_for_selector("#hh-tasks", state="detached")  # answered: no open task left

        # The department disposes of it; the check (核查) goes to the same phone, which answers 已处置 with a photo.
        def as_user(role: str) -> httpx.Client:
            return httpx.Client(base_url=console_url, timeout=20,
                                headers={"Authorization": f"Bearer {token(org.users[role])}"})

        for who, path, body in (("shift_leader", "file", {}), ("dispatcher", "dispatch",
                                                                {"department_id": org.department}),
                                ("department", "sign", {}), ("department", "dispose", {"note": "已清运"}),
                                ("operator", "send-check", {"inspector_user_id": inspector.id})):
            r = as_user(who).post(f"/cases/{case_id}/{path}", json=body)
            assert r.status_code == 200, (path, r.text)
        assert r.json()["state"] == "checking"
        page.wait_for_selector(f"{task} strong:text('核查')", timeout=60_000)
        # The check brings the case's photos so far: the operator's, and the one the phone answered the 核实 with.
        assert _shown(page, f"{task} .case-photos img", 2) == [(640, 480)] * 2
        check_jpeg = _photo(f"check {case_id}")
        page.set_input_files(f"{task} input.task-photo",
                             files=[{"name": "c.jpg", "mimeType": "image/jpeg", "buffer": check_jpeg}])
        page.wait_for_selector(f"{task} .answer-photos img")
        page.click(f"{task} button[data-result='fixed']")
        detail = wait_for(lambda: (d := operator.get(f"/cases/{case_id}").json())["timeline"][-1]["action"]
                          == "check_pass" and d, 60, "the check answer applied", log=worker[1])
        passed = detail["timeline"][-1]
        assert (passed["actor"], passed["role"]) == (username, "inspector")
        assert detail["state"] == "checking" and detail["check_passed"] is True
        photos = [e["data"]["media_id"] for e in detail["evidence"] if e["kind"] == "photo"]
        assert hashlib.sha256(check_jpeg).hexdigest() in photos
        r = as_user("shift_leader").post(f"/cases/{case_id}/close", json={})  # passed: the case can be closed
        assert r.status_code == 200 and r.json()["state"] == "closed", r.text
        assert wait_for(lambda: sql("SELECT count(*) FROM device_commands WHERE device_id = %s AND status = 'acked'",
                                    device_id) == [(2,)], 30, "both tasks acknowledged")
        page.wait_for_selector("#hh-tasks", state="detached")

        # 自处理: a minor problem fixed on the spot is reported with the box ticked: a case of its own, closed at
        # once as self-handled by the inspector.
        page.click("#tab-report")
        page.fill("#hh-category", "E0104")
        page.click(".option[data-code='E0104']")
        page.fill("#hh-description", "已当场清理")
        page.click("label.check:has(#hh-self-handled)")
        assert page.is_checked("#hh-self-handled")
        page.click("#hh-submit")
        page.click("#tab-queue")
        handled = page.get_attribute("#hh-queue li", "data-id")  # the newest first
        assert "自处理" in page.text_content(f"#hh-queue li[data-id='{handled}'] .what")
        (handled_case,) = wait_for(lambda: sql("SELECT case_id::text FROM case_evidence WHERE source_record_id = %s",
                                               f"report:{device_id}:{handled}"), 60, "the self-handled report",
                                   log=worker[1])[0]
        detail = operator.get(f"/cases/{handled_case}").json()
        assert (detail["state"], detail["category_code"], detail["grid_cell_code"]) == ("closed", "E0104", org.cell)
        assert [(e["action"], e["actor"], e["data"].get("note")) for e in detail["timeline"]][-1] == \
            ("self_handle", f"user:{inspector.id}", "已当场清理")  # (the stream worker names a user by id)

        # The GPS is poor (±150 m): the inspector moves the point on the map into the next cell east, and reports.
        # The map is the city's own tiles, read with the device's credentials and kept by the service worker.
        ctx.set_geolocation({"longitude": org.lon, "latitude": org.lat, "accuracy": 150})
        page.click("#tab-report")
        page.wait_for_selector("#hh-gps[data-accuracy='150']")
        with page.expect_response(lambda r: "/map/tiles/" in r.url and r.status == 200):
            page.click("#hh-map-open")
            page.wait_for_selector("#hh-map[data-ready='true']")
        box = page.locator("#hh-map").bounding_box()
        assert box is not None
        # A tap 100 px right of the cross brings that point under it: about 50 m east at the pick's zoom 17. Twice:
        # the point moves from the middle of the phone's cell to the middle of the next one east (cells are 0.001°).
        for moved in (0.0004, 0.0009):
            page.mouse.click(box["x"] + box["width"] / 2 + 100, box["y"] + box["height"] / 2)
            wait_for(lambda m=moved: float(page.get_attribute("#hh-map-point", "data-lon") or 0) > org.lon + m, 10,
                     "the map moved east")
        page.click("#hh-map-use")
        page.wait_for_selector(f"#hh-cell[data-cell='{org.other_cell}']")
        page.fill("#hh-category", "bllj")
        page.click(".option[data-code='E0102']")
        # Its photo shows a component's QR label: uploaded at once (online), the API's label reader names the
        # component and the report carries its code.
        component = f"3415230102{int(device_id.encode().hex(), 16) % 900000:06d}"
        uploads: list[str] = []
        page.on("request", lambda r: uploads.append(r.url) if r.method == "POST" and r.url.endswith("/media")
                else None)
        page.set_input_files("#hh-photo", files=[{"name": "l.jpg", "mimeType": "image/jpeg",
                                                  "buffer": label_photo(640, 480, f"CG:{component}", 160)}])
        page.wait_for_selector(f"#hh-component[data-code='{component}']")
        page.click("#hh-submit")
        page.click("#tab-queue")
        picked = page.get_attribute("#hh-queue li", "data-id")  # the newest first
        page.wait_for_selector(f"#hh-queue li[data-id='{picked}'][data-state='sent']")
        row = wait_for(lambda: sql("SELECT c.grid_cell_code, e.data ->> 'location_source', e.data ? 'accuracy_m', "
                                   "e.data ->> 'component_code' FROM case_evidence e JOIN cases c ON c.id = e.case_id "
                                   "WHERE e.source_record_id = %s", f"report:{device_id}:{picked}"),
                       60, "the map-picked report on a case", log=worker[1])
        assert row == [(org.other_cell, "map", False, component)]
        assert len(uploads) == 1  # over the phone's network once: at the label read, not again from the queue
        # In a basement: the map pick opens with no network, its code from the service worker and the tiles it
        # showed from the phone's copy (it says so), and its point goes into the queue.
        ctx.set_offline(True)
        page.wait_for_selector("#hh-status[data-status='offline']")
        page.click("#tab-report")
        page.click("#hh-map-open")
        page.wait_for_selector("#hh-map[data-kept='true']")
        page.wait_for_selector("#hh-map-kept")
        page.click("#hh-map-use")
        page.wait_for_selector("#hh-picked")
    finally:
        db.execute("DELETE FROM patrol_coverage WHERE inspector_user_id = %s", (inspector.id,))
        db.execute("DELETE FROM patrol_plans WHERE inspector_user_id = %s", (inspector.id,))
        db.execute("UPDATE users SET enabled = false, responsibility_grid_id = NULL WHERE id = %s", (inspector.id,))


@pytest.fixture
def own_api(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Callable[[], None]]]:
    """A second `civicgrid api` this test may stop: the phone then has no server at all, not an emulated cut."""
    (port,) = free_ports(1)
    api_settings = settings.model_copy(update={"api": settings.api.model_copy(update={"port": port})})
    proc, base = start_api(api_settings, tmp_path_factory.mktemp("handheld-api") / "api.log")
    try:
        yield base, lambda: stop_service(proc)
    finally:
        stop_service(proc)


def test_the_app_is_installable_and_starts_without_a_server(own_api, phone) -> None:
    base, stop_api = own_api
    manifest = httpx.get(f"{base}/handheld/manifest.json", timeout=10).json()
    assert (manifest["start_url"], manifest["scope"], manifest["display"], manifest["lang"]) == \
        ("/handheld/", "/handheld/", "standalone", "zh-CN")
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        got = httpx.get(base + icon["src"], timeout=10)
        assert got.status_code == 200 and got.content.startswith(b"\x89PNG")

    ctx, page = phone()
    page.goto(f"{base}/handheld/")
    assert page.get_attribute("link[rel=manifest]", "href") == "/handheld/manifest.json"
    scope = page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
    assert scope == f"{base}/handheld/"
    page.wait_for_selector(".unpaired h1")
    # Chrome's own installability criteria (what Lighthouse's check asks the browser), and its manifest parser.
    cdp = ctx.new_cdp_session(page)
    assert cdp.send("Page.getAppManifest")["errors"] == []
    errors = {e["errorId"] for e in cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]}
    assert errors - {"in-incognito"} == set()  # Playwright's contexts are incognito ones: nothing else may be wrong

    stop_api()
    ctx.set_offline(True)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{base}/healthz", timeout=2)
    response = page.reload()
    assert response is not None and response.from_service_worker
    page.wait_for_selector(".unpaired h1")  # the app's own script ran: the page is not the browser's error page
    assert page.text_content(".unpaired h1") == "城管通"


def test_the_websocket_listener_is_bound_to_the_stack_host_only(settings: Settings) -> None:
    """Debian's Mosquitto 2.0.11 binds a websockets listener to every interface unless told its socket domain."""
    socket.create_connection(("127.0.0.1", settings.mqtt.ws_port), timeout=5).close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", settings.mqtt.ws_port), timeout=5).close()
