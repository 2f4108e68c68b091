"""The operator console's case flow in headless chromium, against the real stack.

A manhole cover tilts (real MQTT telemetry from a provisioned sensor) → gateway → Kafka → stream
worker → alarm and case rows → the API's live feed → the console's alarm list and map. Then the case
is worked through the board by each role in its own browser context, with the permission table's
roles: the shift leader files and closes, the dispatcher dispatches (the cover's department
pre-selected), the department signs and feeds back with a photo (and does not see another
department's case), the operator sends it to check, the inspector passes the check. A role that
may not take an action is not offered it.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from tests.browser.conftest import Org, axe_critical
from tests.e2e.test_device_to_case import Device
from tests.support.services import wait_for

pytestmark = pytest.mark.e2e


def _jpeg(path: Path) -> Path:
    image = np.full((120, 160, 3), (60, 120, 200), np.uint8)
    cv2.putText(image, "fixed", (20, 70), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
    path.write_bytes(cv2.imencode(".jpg", image)[1].tobytes())
    return path


def _open_case(page, case_id: str) -> None:
    page.goto(page.url.split("#")[0] + f"#/cases/{case_id}")
    page.wait_for_selector(f"section.detail[data-case='{case_id}']")


def _act(page, action: str, fill: dict[str, str] | None = None, expect_state: str | None = None) -> None:
    page.click(f".action-buttons button[data-action='{action}']")
    form = page.locator(f"form.action-form[data-action='{action}']")
    for selector, value in (fill or {}).items():
        form.locator(selector).fill(value)
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".actions .ok")
    if expect_state:
        page.wait_for_selector(f"section.detail[data-state='{expect_state}']")


def _offered(page) -> set[str]:
    page.wait_for_selector(".actions")
    return set(page.eval_on_selector_all(".action-buttons button", "els => els.map(e => e.dataset.action)"))


def test_case_flow_through_the_console(worker, gateway, provision, org: Org, console_url: str, new_page, token,
                                       db, artifacts: Path, tmp_path: Path) -> None:
    settings, log = worker
    # Another department's case, to prove the drainage office does not see it.
    with httpx.Client(base_url=console_url, timeout=20) as c:
        mine = {"Authorization": f"Bearer {token(org.users['inspector'])}"}  # an inspector's report needs no 核实
        other = c.post("/cases", headers=mine, json={"category_code": "E0102", "grid_cell_code": org.other_cell,
                                                    "description": "别的部门的案件"}).json()["id"]
        for user, action, body in (("shift_leader", "file", {}),
                                   ("dispatcher", "dispatch", {"department_id": org.other_department})):
            r = c.post(f"/cases/{other}/{action}", json=body,
                       headers={"Authorization": f"Bearer {token(org.users[user])}"})
            assert r.status_code == 200, r.text

    operator = new_page(org.users["operator"])
    operator.wait_for_selector("#city-map[data-rendered='true']", timeout=60_000)
    # The first view is drawn once, complete: not redrawn as each tile and source arrives (docs/performance.md).
    assert operator.evaluate("window.__cgMapStats().frames") == 1
    operator.wait_for_selector(".feed-status.live")
    assert axe_critical(operator) == []

    # --- a simulated manhole fault: two readings above 15° raise the alarm (debounce)
    device = Device(settings, *provision("manhole-sensor", component_code=org.component))
    try:
        published = time.monotonic()
        for tilt in (2, 24, 26):
            device.send("telemetry", tilt_deg=tilt, battery_pct=77)
        wait_for(lambda: db.execute("SELECT 1 FROM alarms WHERE device_id = %s AND action = 'raise'",
                                    (device.id,)).fetchone(), 60, "the alarm row (worker)", log=log)
        committed = time.monotonic()
        # The console's own part: the feed entry and the pulsing marker within 10 s of the alarm's commit.
        operator.wait_for_selector(f".feed-entry.alarm[data-device='{device.id}']", timeout=10_000)
        operator.wait_for_selector(f".alarm-marker[data-device='{device.id}']", timeout=10_000)
        seen = time.monotonic()
        print(f"alarm on screen {seen - published:.1f} s after publish, {seen - committed:.1f} s after commit")
        assert "urgency-A" in operator.get_attribute(f".feed-entry.alarm[data-device='{device.id}']", "class")
    finally:
        device.close()
    (case_id,) = wait_for(lambda: db.execute("SELECT id::text FROM cases WHERE component_code = %s",
                                             (org.component,)).fetchone(), 60, "the sensor case", log=log)
    operator.wait_for_selector(f".feed-entry.case-event[data-case='{case_id}']", timeout=15_000)
    operator.screenshot(path=str(artifacts / "console-map.png"))

    # The operator opens the case from the feed; filing is the shift leader's: not offered.
    operator.click(f".feed-entry.case-event[data-case='{case_id}'] a")
    operator.wait_for_selector(f"section.detail[data-case='{case_id}'][data-state='reported']")
    assert "file" not in _offered(operator) and "dispatch" not in _offered(operator)

    leader = new_page(org.users["shift_leader"], f"#/cases/{case_id}")
    leader.wait_for_selector(f"section.detail[data-case='{case_id}']")
    assert "dispatch" not in _offered(leader)
    _act(leader, "file", {"textarea[name=note]": "井盖倾斜，立案"}, "filed")

    dispatcher = new_page(org.users["dispatcher"], f"#/cases/{case_id}")
    dispatcher.wait_for_selector(f"section.detail[data-case='{case_id}'][data-state='filed']")
    dispatcher.click(".action-buttons button[data-action='dispatch']")
    chosen = dispatcher.locator("form.action-form[data-action='dispatch'] select[name=department_id]").input_value()
    assert chosen == org.department  # the cover's department, pre-selected
    dispatcher.click("form.action-form[data-action='dispatch'] button[type=submit]")
    dispatcher.wait_for_selector("section.detail[data-state='dispatched']")
    dispatcher.goto(dispatcher.url.split("#")[0] + "#/cases")
    dispatcher.wait_for_selector(f"tr[data-case='{case_id}'] .light.green")  # just dispatched: green
    dispatcher.click(f"tr[data-case='{case_id}'] a")
    dispatcher.wait_for_selector(f"section.detail[data-case='{case_id}'] .timeline li")
    assert axe_critical(dispatcher) == []
    dispatcher.screenshot(path=str(artifacts / "console-cases.png"))

    # The drainage office sees its case and not the water company's; signs and feeds back with a photo.
    handler = new_page(org.users["department"], "#/cases")
    handler.wait_for_selector(f"tr[data-case='{case_id}']")
    assert handler.locator(f"tr[data-case='{other}']").count() == 0
    _open_case(handler, case_id)
    assert _offered(handler) >= {"sign"} and "close" not in _offered(handler)
    _act(handler, "sign", expect_state="disposing")
    handler.click(".action-buttons button[data-action='dispose']")
    form = handler.locator("form.action-form[data-action='dispose']")
    form.locator("textarea[name=note]").fill("已扶正井盖并加固")
    form.locator("input[name=photo]").set_input_files(str(_jpeg(tmp_path / "fixed.jpg")))
    form.locator("button[type=submit]").click()
    handler.wait_for_selector("section.detail[data-state='disposed']")
    handler.wait_for_selector("img.evidence-photo")
    handler.goto(handler.url.split("#")[0] + f"#/cases/{other}")
    handler.wait_for_selector(".detail .error")  # out of scope: the API answers 404, shown in words

    _open_case(operator, case_id)
    operator.wait_for_selector("section.detail[data-state='disposed']")
    _act(operator, "send_check", expect_state="checking")

    inspector = new_page(org.users["inspector"], f"#/cases/{case_id}")
    inspector.wait_for_selector(f"section.detail[data-case='{case_id}'][data-state='checking']")
    assert "close" not in _offered(inspector)
    _act(inspector, "check_pass", {"textarea[name=note]": "现场核查已修复"})

    _open_case(leader, case_id)
    leader.wait_for_selector("section.detail[data-state='checking'], section.detail[data-state='disposed']")
    leader.reload()
    leader.wait_for_selector(f"section.detail[data-case='{case_id}']")
    _act(leader, "close", {"textarea[name=note]": "结案"}, "closed")
    assert db.execute("SELECT state FROM cases WHERE id = %s", (case_id,)).fetchone() == ("closed",)
    assert [r[0] for r in db.execute("SELECT action FROM case_events WHERE case_id = %s ORDER BY seq",
                                     (case_id,)).fetchall()] == [
        "report", "file", "dispatch", "sign", "dispose", "send_check", "check_pass", "close"]


def test_a_refused_action_is_shown_in_words(org: Org, console_url: str, new_page, token) -> None:
    """The board offers what the role may do now; if the case moved on meanwhile, the API's 409 is shown.

    The page's live feed is cut: with it, the page would follow the cancellation and close the form
    before the click (which is right, but then there is no refusal to show)."""
    with httpx.Client(base_url=console_url, timeout=20,
                      headers={"Authorization": f"Bearer {token(org.users['inspector'])}"}) as c:
        case_id = c.post("/cases", json={"category_code": "E0102", "grid_cell_code": org.cell}).json()["id"]
    leader = new_page(org.users["shift_leader"], f"#/cases/{case_id}", live=False)
    leader.wait_for_selector(f"section.detail[data-case='{case_id}'][data-state='reported']")
    leader.click(".action-buttons button[data-action='file']")
    with httpx.Client(base_url=console_url, timeout=20,
                      headers={"Authorization": f"Bearer {token(org.users['shift_leader'])}"}) as c:
        assert c.post(f"/cases/{case_id}/cancel", json={"reason": "重复"}).status_code == 200
    leader.click("form.action-form[data-action='file'] button[type=submit]")
    error = leader.wait_for_selector("form.action-form .error").inner_text()
    assert "cancelled" in error and "file" in error


@pytest.mark.parametrize("page_id", ["scoring", "patrol", "devices", "cameras"])
def test_pages_render_without_critical_accessibility_violations(page_id: str, org: Org, new_page,
                                                                 artifacts: Path) -> None:
    page = new_page(org.users["operator"], f"#/{page_id}")
    page.wait_for_selector(f"main#page[data-page='{page_id}'] h1")
    if page_id == "scoring":
        page.wait_for_selector(".score-table tbody tr")
        page.wait_for_selector(".chart svg")
        # Headers in words, with the weight each indicator carries; a rate with nothing due reads "—", never 1.000;
        # the table says what scored it.
        closing = page.inner_text(".score-table th[data-indicator='closing_rate']")
        assert closing.startswith("结案率") and "权重 30%" in closing
        assert page.inner_text(".score-table th[data-indicator='rework_rate']") == "返工率"
        assert page.locator(".score-table td.nothing-due").first.inner_text() == "—"
        assert page.locator(".score-table td", has_text="1.000").filter(has_text="0/0").count() == 0
        composition = page.inner_text(".composition")
        assert "30% 结案率" in composition and "无应考核数: 按 1.000" in composition and "评分规则版本 v" in composition
        page.screenshot(path=str(artifacts / "console-scoring.png"))
    if page_id == "patrol":
        page.wait_for_selector("#patrol-map[data-rendered='true']", timeout=60_000)
    if page_id == "devices":
        page.wait_for_selector("table.device-list, main#page .empty")
    if page_id == "cameras":
        page.wait_for_selector("table.camera-list, main#page .empty")
    page.wait_for_function("() => !document.body.innerText.includes('加载中')")  # every load settled
    assert page.locator(".error").count() == 0, page.locator(".error").all_inner_texts()
    assert axe_critical(page) == []


def test_navigation_follows_the_role_and_the_language_switches(org: Org, new_page) -> None:
    handler = new_page(org.users["department"], "#/cases")
    assert handler.eval_on_selector_all("header nav a", "els => els.map(e => e.getAttribute('href'))") == [
        "#/map", "#/cases"]
    handler.wait_for_selector("table.case-list, .board .empty")
    assert axe_critical(handler) == []
    # Pages load on first use (src/main.js): the case board alone fetches neither MapLibre nor the map's data.
    fetched = handler.evaluate("performance.getEntriesByType('resource').map(e => new URL(e.name).pathname)")
    assert [p for p in fetched if "maplibre" in p or p.startswith("/map/")] == [] and any("cases" in p for p in fetched)
    leader = new_page(org.users["leader"], "#/scoring", lang="en")
    assert leader.inner_text("header nav a.active") == "Scoring"
    assert "Devices" in leader.inner_text("header nav")
    leader.click("header button:has-text('中文')")
    leader.wait_for_selector("header nav a:has-text('考评')")


def test_an_alarm_acknowledged_in_one_console_stops_pulsing_in_the_other(org: Org, new_page, db) -> None:
    operator = new_page(org.users["operator"])
    leader = new_page(org.users["shift_leader"])
    for page in (operator, leader):
        page.wait_for_selector("#city-map[data-rendered='true']", timeout=60_000)
        page.wait_for_selector(".feed-status.live")
    alarm_id = f"ui-ack-{org.suffix}:cover_tilted:1"
    db.execute("INSERT INTO alarms (time, alarm_id, device_id, rule, action, category_code, urgency, grid_cell_code) "
               "VALUES (now(), %s, %s, 'cover_tilted', 'raise', 'C0114', 'A', %s)",
               (alarm_id, f"ui-ack-{org.suffix}", org.cell))
    entry = f".feed-entry.alarm[data-alarm='{alarm_id}']"
    for page in (operator, leader):
        page.wait_for_selector(f"{entry} button", timeout=10_000)  # pulsing, with its acknowledge button
    operator.click(f"{entry} button:has-text('确认')")
    operator.wait_for_selector(f"{entry}.acked")
    # The other console learns it from the feed, with who acknowledged it.
    leader.wait_for_selector(f"{entry}.acked .acked-by:has-text('{org.users['operator']}')", timeout=10_000)
    assert db.execute("SELECT u.username FROM alarm_acks a JOIN users u ON u.id = a.acked_by WHERE a.alarm_id = %s",
                      (alarm_id,)).fetchone() == (org.users["operator"],)
