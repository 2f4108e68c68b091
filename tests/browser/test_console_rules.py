"""The rules page in a real browser against `civicgrid api`: an admin edits a category's disposal limit in place, an
invalid edit is refused with the words next to its field, the valid one is saved as a new version with its reason
(seen in the page's history), and a case filed afterwards through the API gets the new limit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import httpx
import pytest

from api.users import create_user
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
    finally:
        restored = call(admin, "POST", "/admin/rules", json={}, params={"reason": "测试结束，恢复默认规则"})
        assert restored.status_code in (200, 201)
