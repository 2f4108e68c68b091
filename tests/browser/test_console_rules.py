"""The rules page in a real browser against `civicgrid api`: an admin edits a category's disposal limit in place, an
invalid edit is refused with the words next to its field, the valid one is saved as a new version with its reason
(seen in the page's history), and a case filed afterwards through the API gets the new limit; then the working
calendar and the permission table, then the catalogue's rows (a new category, an existing one's condition) and the
case-count bands and grades are edited the same way, a category is removed (a major with minors refused), and an
area class (core streets: its cells, a category's class there) and the light's yellow share are set."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import httpx
import pytest

from api.users import create_user
from civicgrid.cases.pack import from_tables
from tests.browser.conftest import PASSWORD, Org, axe_critical


@pytest.fixture
def admin(org: Org, db) -> Iterator[str]:
    name = f"ui-rules-admin-{org.suffix}"
    if db.execute("SELECT 1 FROM users WHERE username = %s", (name,)).fetchone() is None:
        create_user(db, name, "admin", password=PASSWORD, display_name="规则管理员")
    db.execute("UPDATE users SET enabled = true WHERE username = %s", (name,))
    yield name
    db.execute("UPDATE users SET enabled = false WHERE username = %s", (name,))


def test_an_admin_edits_a_category_limit_and_the_next_case_gets_it(org: Org, admin: str, new_page, console_url: str,
                                                                    token: Callable[[str], str], artifacts,
                                                                    tmp_path) -> None:
    def call(user: str, method: str, path: str, **kw: object) -> httpx.Response:
        return httpx.request(method, f"{console_url}{path}", headers={"Authorization": f"Bearer {token(user)}"},
                             timeout=20, **kw)  # type: ignore[arg-type]

    assert call(admin, "POST", "/admin/rules", json={}).status_code in (200, 201)  # the shipped tables are current
    before = call(admin, "GET", "/admin/rules").json()["version"]
    try:
        page = new_page(admin, "#/rules")
        page.wait_for_selector(f"#rules[data-version='{before}']")
        page.fill("#rl-cat-q", "E0103")
        page.fill("#rl-cat-E0103-amount", "-2")
        page.fill("#rl-w-region-closing_rate", "0.5")
        page.fill("#rl-reason", "试填")
        page.click("#rl-save button[type=submit]")
        limit_error = page.locator("#rl-catalogue tr[data-code='E0103'] .field-error")
        limit_error.wait_for()
        assert "amount: Input should be greater than or equal to 0 (got -2)" in limit_error.inner_text()
        weight_error = page.locator("#rl-weights .field-error[data-row='composite region']")
        assert "the weights add up to 1.2, not 1" in weight_error.inner_text()
        assert call(admin, "GET", "/admin/rules").json()["version"] == before  # nothing stored

        page.fill("#rl-cat-E0103-amount", "3")
        page.select_option("#rl-cat-E0103-unit", "natural_hours")
        page.fill("#rl-w-region-closing_rate", "0.3")
        page.fill("#rl-reason", "区城管委通知：乱堆物堆料 3 小时内处置")
        page.click("#rl-save button[type=submit]")
        page.wait_for_selector("#rl-saved")
        version = before + 1
        page.wait_for_selector(f"#rules[data-version='{version}']")
        assert page.locator("#rl-catalogue .field-error").count() == 0
        row = page.locator(f"#rl-history tr[data-version='{version}']")
        row.wait_for()
        text = row.inner_text()
        assert admin in text and "区城管委通知：乱堆物堆料 3 小时内处置" in text
        assert "time_limits.categories.E0103: added 3 natural_hours" in text
        assert axe_critical(page) == []
        page.screenshot(path=str(artifacts / "console-rules.png"), full_page=False)

        # The workbook goes out and comes back: the same tables, so the same version (nothing stored).
        with page.expect_download() as info:
            page.click("#rl-download")
        workbook = tmp_path / "rules.xlsx"
        info.value.save_as(str(workbook))
        assert info.value.suggested_filename == f"civicgrid-rules-v{version}.xlsx"
        page.set_input_files("#rl-u-file", str(workbook))
        page.fill("#rl-u-reason", "核对工作簿")
        page.click("#rl-upload button[type=submit]")
        assert page.locator("#rl-saved").inner_text().endswith(f"版本 {version}")
        page.wait_for_function("() => document.querySelector('#rl-saved').textContent.includes('未保存')")

        # A case filed afterwards, through the API, is judged by the new limit: 3 clock hours from its dispatch.
        case = call(org.users["inspector"], "POST", "/cases", json={
            "category_code": "E0103", "description": "路边乱堆物料", "lon": org.lon, "lat": org.lat,
            "address": "测试路 1 号"})
        assert case.status_code == 201, case.text
        assert case.json()["rules_version"] == version
        case_id = case.json()["id"]
        assert call(org.users["shift_leader"], "POST", f"/cases/{case_id}/file", json={}).status_code == 200
        dispatched = call(org.users["dispatcher"], "POST", f"/cases/{case_id}/dispatch",
                          json={"department_id": org.department})
        assert dispatched.status_code == 200, dispatched.text
        body = dispatched.json()
        at = datetime.fromisoformat(next(e["at"] for e in body["timeline"] if e["action"] == "dispatch"))
        assert datetime.fromisoformat(body["disposal_deadline"]) == at + timedelta(hours=3)

        # The calendar and the permission table, edited on the same page: a period that does not parse is refused
        # in words beside the periods (nothing stored); fixed, the holiday and the operators' right to file are
        # one new version, and its history row says what was added.
        page.fill("#rl-cal-periods", "08:30-12:00, 8")
        page.fill("#rl-cal-holidays", "2026-10-09")
        page.check("#rl-role-file-operator")
        page.fill("#rl-reason", "国庆调休；受理员可立案")
        page.click("#rl-save button[type=submit]")
        period_error = page.locator("#rl-cal-periods-error")
        period_error.wait_for()
        assert "period 2: a working period is written HH:MM-HH:MM" in period_error.inner_text()
        assert call(admin, "GET", "/admin/rules").json()["version"] == version
        page.fill("#rl-cal-periods", "08:30-12:00, 14:30-18:00")
        page.click("#rl-save button[type=submit]")
        page.wait_for_selector(f"#rules[data-version='{version + 1}']")
        text = page.locator(f"#rl-history tr[data-version='{version + 1}']").inner_text()
        assert "permissions.actions.file: added operator" in text
        assert "working_calendar.holidays: added 2026-10-09" in text
        assert "working_calendar.periods: added 14:30-18:00; removed 14:00-17:30" in text
        tables = call(admin, "GET", "/admin/rules/content").json()["tables"]
        assert "operator" in tables["permissions"]["actions"]["file"]
        assert tables["working_calendar"]["holidays"] == ["2026-10-09"]
        assert page.is_checked("#rl-role-file-operator")
        page.locator("#rl-calendar").screenshot(path=str(artifacts / "console-rules-calendar.png"))

        # The catalogue's rows and the scoring bands: a new category with its names, conditions and class, an
        # existing one's closing condition, a band that could never be reached and an emptied name refused beside
        # their rows; fixed, one new version that a case is filed under with the new category's class.
        page.fill("#rl-cat-q", "")
        page.fill("#rl-new-code", "e0150")
        page.fill("#rl-new-zh", "共享单车乱停放")
        page.fill("#rl-new-en", "Shared bikes parked anywhere")
        page.select_option("#rl-new-class", "B")
        page.fill("#rl-new-filing", "人行道上乱停放共享单车五辆以上")
        page.fill("#rl-new-closing", "车辆已清理或摆放整齐")
        page.click("#rl-cat-add button[type=submit]")
        page.fill("#rl-en-E0150", "")
        page.fill("#rl-cat-q", "E0103")
        page.fill("#rl-closing_condition-E0103", "物料已清除，路面无残留")
        page.fill("#rl-bands-2-max", "10")
        page.fill("#rl-reason", "新增共享单车类别；调整案件数得分")
        page.click("#rl-save button[type=submit]")
        band_error = page.locator("#rl-bands tr[data-row='2'] .field-error")
        band_error.wait_for()
        assert "10 is not larger than 50 of case-count band 1" in band_error.inner_text()
        page.fill("#rl-cat-q", "E0150")
        name_error = page.locator("#rl-catalogue tr[data-code='E0150'] .field-error")
        assert "en: empty: every category needs its English name" in name_error.inner_text()
        assert call(admin, "GET", "/admin/rules").json()["version"] == version + 1
        page.fill("#rl-en-E0150", "Shared bikes parked anywhere")
        page.fill("#rl-bands-2-max", "80")
        page.fill("#rl-grades-4-min", "45")
        page.click("#rl-save button[type=submit]")
        page.wait_for_selector(f"#rules[data-version='{version + 2}']")
        text = page.locator(f"#rl-history tr[data-version='{version + 2}']").inner_text()
        assert "catalogue.categories.E0150: added" in text
        assert ("catalogue.categories.E0103.closing_condition: 垃圾渣土已清运，地面无残留 → 物料已清除，路面无残留"
                in text)
        tables = call(admin, "GET", "/admin/rules/content").json()["tables"]
        assert {"code": "E0150", "zh": "共享单车乱停放", "en": "Shared bikes parked anywhere", "disposal_class": "B",
                "filing_condition": "人行道上乱停放共享单车五辆以上",
                "closing_condition": "车辆已清理或摆放整齐"} in tables["catalogue"]["categories"]
        assert tables["scoring"]["case_count_bands"][1] == {"max": 80, "score": 90}
        assert tables["scoring"]["grades"][3] == {"grade": "D", "min": 45}
        bikes = call(org.users["inspector"], "POST", "/cases", json={
            "category_code": "E0150", "description": "单车堆在人行道", "lon": org.lon, "lat": org.lat})
        assert bikes.status_code == 201, bikes.text
        assert bikes.json()["category_name"] == "共享单车乱停放"
        filed = call(org.users["shift_leader"], "POST", f"/cases/{bikes.json()['id']}/file", json={})
        assert filed.status_code == 200, filed.text
        sent = call(org.users["dispatcher"], "POST", f"/cases/{bikes.json()['id']}/dispatch",
                    json={"department_id": org.department})
        assert sent.status_code == 200, sent.text
        at = datetime.fromisoformat(next(e["at"] for e in sent.json()["timeline"] if e["action"] == "dispatch"))
        rules = from_tables(tables, "the version the page stored").rules  # its deadline is class B's, not C's
        assert datetime.fromisoformat(sent.json()["disposal_deadline"]) == rules.disposal_deadline(at, None, "B")
        assert rules.disposal_deadline(at, None, "B") != rules.disposal_deadline(at, None, "C")
        page.locator("#rl-catalogue").screenshot(path=str(artifacts / "console-rules-catalogue.png"))

        # Removing rows: a major whose minors stay is refused beside each minor, in words, and nothing is stored;
        # a minor removed (with its own limit) is a new version: the case filed under it keeps its version's
        # catalogue, a new report of it is refused, Open311 offers it no more.
        page.fill("#rl-cat-q", "C05")
        page.click("#rl-cat-del-C05")
        assert "C05" in page.locator("#rl-removed").inner_text()
        page.fill("#rl-reason", "删除大类")
        page.click("#rl-save button[type=submit]")
        minor_error = page.locator("#rl-catalogue tr[data-code='C0501'] .field-error")
        minor_error.wait_for()
        assert "code: its major category C05 is not in the file" in minor_error.inner_text()
        assert call(admin, "GET", "/admin/rules").json()["version"] == version + 2
        page.click("#rl-save button[type=button]")  # discard: C05 is back
        page.fill("#rl-cat-q", "E0150")
        page.wait_for_selector("#rl-cat-del-E0150")
        assert page.locator("#rl-removed").count() == 0
        page.click("#rl-cat-del-E0150")
        assert page.locator("#rl-catalogue tr[data-code='E0150']").count() == 0
        page.fill("#rl-reason", "共享单车改由专项整治，不再立案")
        page.click("#rl-save button[type=submit]")
        page.wait_for_selector(f"#rules[data-version='{version + 3}']")
        text = page.locator(f"#rl-history tr[data-version='{version + 3}']").inner_text()
        assert "catalogue.categories.E0150: removed" in text
        tables = call(admin, "GET", "/admin/rules/content").json()["tables"]
        assert "E0150" not in {c["code"] for c in tables["catalogue"]["categories"]}
        kept = call(admin, "GET", f"/cases/{bikes.json()['id']}").json()
        assert (kept["category_name"], kept["rules_version"]) == ("共享单车乱停放", version + 2)
        refused = call(org.users["inspector"], "POST", "/cases", json={
            "category_code": "E0150", "description": "单车又堆在人行道", "lon": org.lon, "lat": org.lat})
        assert refused.status_code == 422, refused.text
        services = httpx.get(f"{console_url}/open311/v2/services.json", timeout=20).json()
        assert "E0150" not in {s["service_code"] for s in services} and "E0103" in {s["service_code"] for s in services}

        # Area classes and the light: a core area over the org's street gives E0102 (class B) class A there; a
        # prefix that is not digits is refused beside its area; fixed, with the light's yellow share, one new
        # version whose record names the cells, the class and the share, and a case filed in the street gets
        # class A's limit (2 clock hours) from its dispatch.
        page.fill("#rl-area-new", "core")
        page.click("#rl-area-add button[type=submit]")
        page.fill("#rl-area-core-cells", "34x")
        page.fill("#rl-area-core-new", "E0102")
        page.click("#rl-area-core-add button[type=submit]")
        page.select_option("#rl-ac-core-E0102-class", "A")
        page.fill("#rl-light-yellow", "0.7")
        page.fill("#rl-reason", "核心街道暴露垃圾按 A 类处置")
        page.click("#rl-save button[type=submit]")
        cells_error = page.locator("#rl-area-core .field-error[data-row='area core']")
        cells_error.wait_for()
        assert "area_cells item 1: String should match pattern" in cells_error.inner_text()
        street = org.cell[:9]
        page.fill("#rl-area-core-cells", street)
        page.click("#rl-save button[type=submit]")
        page.wait_for_selector(f"#rules[data-version='{version + 4}']")
        text = page.locator(f"#rl-history tr[data-version='{version + 4}']").inner_text()
        assert "catalogue.area_classes.core.E0102: added A" in text
        assert f"time_limits.area_cells.core: added {street}" in text and "time_limits.light.yellow: 0.8 → 0.7" in text
        assert page.locator("#rl-ac-core-E0102-class").input_value() == "A"
        page.locator("#rl-area-h").locator("..").screenshot(path=str(artifacts / "console-rules-areas.png"))
        core = call(org.users["inspector"], "POST", "/cases", json={
            "category_code": "E0102", "description": "核心街道暴露垃圾", "lon": org.lon + 0.0005,
            "lat": org.lat + 0.0005})
        assert core.status_code == 201, core.text
        assert core.json()["rules_version"] == version + 4
        assert call(org.users["shift_leader"], "POST", f"/cases/{core.json()['id']}/file", json={}).status_code == 200
        sent = call(org.users["dispatcher"], "POST", f"/cases/{core.json()['id']}/dispatch",
                    json={"department_id": org.department})
        assert sent.status_code == 200, sent.text
        at = datetime.fromisoformat(next(e["at"] for e in sent.json()["timeline"] if e["action"] == "dispatch"))
        assert datetime.fromisoformat(sent.json()["disposal_deadline"]) == at + timedelta(hours=2)
    finally:
        restored = call(admin, "POST", "/admin/rules", json={}, params={"reason": "测试结束，恢复默认规则"})
        assert restored.status_code in (200, 201)


def test_an_admin_sets_up_centres_and_sends_a_failed_notification_again(org: Org, admin: str, new_page,
                                                                        console_url: str,
                                                                        token: Callable[[str], str], db,
                                                                        artifacts) -> None:
    """The centres page (a district that does not nest is refused in words, then saved; a department put under
    it; the department table rolled up by centre on the scoring page; the city refused removal while the district
    is under it, the district removed, both in the audit record) and the notifications page (a failed one,
    counted, sent again with a reason that the API records). Every centre is removed afterwards, as
    tests/integration/api/test_centres.py does, so the later tests meet none."""
    def call(method: str, path: str, **kw: object) -> httpx.Response:
        return httpx.request(method, f"{console_url}{path}", headers={"Authorization": f"Bearer {token(admin)}"},
                             timeout=20, **kw)  # type: ignore[arg-type]

    assert call("GET", "/centres").json() == [], "a centre left by another test"
    case = httpx.post(f"{console_url}/cases", headers={"Authorization": f"Bearer {token(org.users['inspector'])}"},
                      json={"category_code": "E0102", "description": "回访测试", "lon": org.lon, "lat": org.lat},
                      timeout=20)
    assert case.status_code == 201, case.text
    (caller,) = db.execute("INSERT INTO case_callers (case_id, channel, name, phone, callback) "
                           "VALUES (%s, 'hotline', '王先生', '13900000099', true) RETURNING id",
                           (case.json()["id"],)).fetchone()
    (failed,) = db.execute("INSERT INTO notifications (case_id, caller_id, event_seq, channel, status, attempts, "
                           "last_error) VALUES (%s, %s, 1, 'webhook', 'failed', 6, 'HTTP 503 from the receiver') "
                           "RETURNING id", (case.json()["id"], caller)).fetchone()
    try:
        page = new_page(admin, "#/centres")
        page.wait_for_selector("#centres[data-count='0']")
        page.fill("#ce-id", "ui-city")
        page.fill("#ce-name", "测试市监督指挥中心")
        page.select_option("#ce-level", "city")
        page.fill("#ce-prefix", "3415")
        page.fill("#ce-reason", "市中心建立")
        page.click("#ce-form button[type=submit]")
        page.wait_for_selector("#ce-tree tr[data-centre='ui-city']")
        page.fill("#ce-id", "ui-district")
        page.fill("#ce-name", "测试区指挥中心")
        page.select_option("#ce-level", "district")
        page.fill("#ce-prefix", "320402")
        page.select_option("#ce-parent", "ui-city")
        page.fill("#ce-reason", "区中心接入")
        page.click("#ce-form button[type=submit]")
        refusal = page.locator("#ce-form .error")
        refusal.wait_for()
        assert "ui-district" in refusal.inner_text() and "3415" in refusal.inner_text()
        page.fill("#ce-prefix", "341523")
        page.click("#ce-form button[type=submit]")
        page.wait_for_selector("#centres[data-count='2'] #ce-tree tr[data-centre='ui-district']")
        page.select_option(f"#ce-dept-{org.department}", "ui-district")
        page.wait_for_function(f"() => document.querySelector('#ce-dept-{org.department}').value === 'ui-district'")
        departments = {d["id"]: d for d in call("GET", "/departments").json()}
        assert departments[org.department]["centre_id"] == "ui-district"
        assert axe_critical(page) == []
        page.screenshot(path=str(artifacts / "console-centres.png"), full_page=True)

        page.goto(f"{console_url}/#/scoring")
        page.select_option("#s-dept-level", "centre")
        page.wait_for_selector(".score-table tr[data-subject='ui-city']")
        assert "测试区指挥中心" in page.inner_text(".score-table")

        # Removing centres: the city, with a district under it, is refused in words; the district, once its
        # department is back at the top, is removed; each change is in the page's audit record with its reason.
        page.goto(f"{console_url}/#/centres")
        page.click("#ce-del-ui-city")
        page.fill("#ce-remove-reason", "撤销市中心")
        page.click("#ce-remove button[type=submit]")
        refusal = page.locator("#ce-remove .error")
        refusal.wait_for()
        assert "1 child centre (ui-district)" in refusal.inner_text()
        with page.expect_response(lambda r: r.request.method == "PUT" and f"/departments/{org.department}" in r.url):
            page.select_option(f"#ce-dept-{org.department}", "")
        page.click("#ce-del-ui-district")
        page.fill("#ce-remove-reason", "区中心撤并")
        page.click("#ce-remove button[type=submit]")
        page.wait_for_selector("#centres[data-count='1']")
        removed = page.locator("#ce-history tr[data-centre='ui-district'][data-change='removed']")
        removed.wait_for()
        assert admin in removed.inner_text() and "区中心撤并" in removed.inner_text()
        added = page.locator("#ce-history tr[data-centre='ui-district'][data-change='added']").inner_text()
        assert "cell_prefix: 341523" in added and "区中心接入" in added
        assert axe_critical(page) == []

        page.goto(f"{console_url}/#/notifications")
        page.click("#nt-failed-count")
        row = page.locator(f"#nt-list tr[data-id='{failed}']")
        row.wait_for()
        assert "HTTP 503 from the receiver" in row.inner_text() and "发送失败" in row.inner_text()
        page.fill(f"#nt-reason-{failed}", "接收平台已恢复")
        page.click(f"#nt-resend-{failed} button[type=submit]")
        page.wait_for_selector("#nt-done")
        page.wait_for_selector(f"#nt-list tr[data-id='{failed}']", state="detached")  # no longer failed
        assert axe_critical(page) == []
        page.select_option("#nt-status", "")
        page.wait_for_selector(f"#nt-list tr[data-id='{failed}'][data-status='pending']")
        page.screenshot(path=str(artifacts / "console-notifications.png"))
        resent = db.execute("SELECT n.status, r.actor, r.reason, r.attempts FROM notifications n "
                            "JOIN notification_resends r ON r.notification_id = n.id WHERE n.id = %s",
                            (failed,)).fetchall()
        assert resent == [("pending", admin, "接收平台已恢复", 6)]
    finally:
        db.execute("DELETE FROM case_callers WHERE id = %s", (caller,))  # its notification with it
        db.execute("UPDATE cases SET centre_id = NULL WHERE centre_id IS NOT NULL")
        db.execute("UPDATE users SET centre_id = NULL WHERE centre_id IS NOT NULL")
        db.execute("UPDATE departments SET centre_id = NULL WHERE centre_id IS NOT NULL")
        db.execute("UPDATE feed_events SET centre_id = NULL WHERE centre_id IS NOT NULL")
        db.execute("DELETE FROM centres WHERE parent_id IS NOT NULL")
        db.execute("DELETE FROM centres")
