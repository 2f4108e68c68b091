"""The intake side of the console in headless chromium, against the real stack (the API as a process, the real
database): the sources the board filters by are the API's own list (GET /sources)."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.conftest import Org

pytestmark = pytest.mark.e2e


def _headers(token, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(username)}"}


def test_the_board_filters_by_the_api_sources(org: Org, console_url: str, new_page, token) -> None:
    """The board's source filter offers the API's sources: a camera case is found by source camera (the board
    sent `video`, which the API refused) and shows its name, not the key `source.camera`."""
    with httpx.Client(base_url=console_url, timeout=20) as c:
        r = c.post("/cases", headers=_headers(token, org.users["operator"]), json={
            "category_code": "E0504", "source": "camera", "grid_cell_code": org.other_cell,
            "description": "店外经营（视频抓拍）"})
        assert r.status_code == 201, r.text
        camera_case = r.json()

    page = new_page(org.users["operator"], "#/cases")
    page.wait_for_selector("#f-source option[value='camera']", state="attached")
    assert page.eval_on_selector_all("#f-source option", "els => els.map(e => e.value).filter(Boolean)") == \
        ["inspector", "camera", "hotline", "leader", "transfer", "sensor"]
    page.select_option("#f-source", "camera")
    page.fill("#f-cell", org.other_cell)
    page.click(".filters button[type=submit]")
    row = page.locator(f"tr[data-case='{camera_case['id']}']")
    row.wait_for()
    assert page.locator(".board .error").count() == 0
    sources = page.eval_on_selector_all("table.case-list tbody tr td:nth-child(5)",
                                        "els => els.map(e => e.textContent)")
    assert sources and set(sources) == {"视频抓拍"}
    # The list the board offered is the API's own.
    listed = httpx.get(f"{console_url}/sources", headers=_headers(token, org.users["operator"]), timeout=20)
    assert listed.status_code == 200, listed.text
    assert [(s["code"], s["name"]) for s in listed.json()][1] == ("camera", "视频抓拍")
