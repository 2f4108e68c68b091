"""Each step's time limit in the console, on a simulated platform clock (20 simulated seconds a wall second): a
reported case's 10-minute accept limit turns its light on the board yellow at 80 % and red past the deadline, the
feed says the warning in words, and the case detail lists each step's clock. The API and a stream worker with the
deadline watch run as processes on the same simulated clock, two days ahead of the wall clock (so no other
worker of the session, on the system clock, reaches these deadlines)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from civicgrid.clock import ClockSettings
from civicgrid.settings import Settings
from tests.browser.conftest import PASSWORD, Org, axe_critical
from tests.support.services import start_api, start_service, stop_service, wait_for
from tests.support.stack import free_ports

pytestmark = pytest.mark.e2e

START = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)  # Tuesday 09:00 in the city
SPEED = 20.0


@pytest.fixture(scope="module")
def simulated_api(settings: Settings, org: Org, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`civicgrid api` and `civicgrid worker` (the deadline watch only) on one simulated clock."""
    api_port, metrics_port = free_ports(2)
    clock = ClockSettings(start=START, speed=SPEED, anchor=datetime.now(UTC))
    logs = tmp_path_factory.mktemp("deadline-console")
    api_settings = settings.model_copy(update={"clock": clock, "api": settings.api.model_copy(update={
        "port": api_port, "media_dir": logs / "media"})})
    worker_settings = settings.model_copy(update={"clock": clock, "streams": settings.streams.model_copy(update={
        "app_id": f"dl-{uuid.uuid4().hex[:6]}", "roles": ("deadlines",), "metrics_port": metrics_port,
        "deadline_scan_s": 0.5})})
    api, base = start_api(api_settings, logs / "api.log")
    procs = [api, start_service("worker", worker_settings, logs / "worker.log")]
    try:
        wait_for(lambda: "Worker: Ready" in (logs / "worker.log").read_text(), 60, "worker ready", procs[1],
                 logs / "worker.log")
        yield base
    finally:
        for proc in procs:
            stop_service(proc)


def _page(browser, base: str, username: str, hash_: str):
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    page.add_init_script("localStorage.setItem('civicgrid.lang', 'zh'); localStorage.setItem('civicgrid.muted', '1');")
    page.goto(f"{base}/{hash_}")
    page.fill("#login-user", username)
    page.fill("#login-password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("header .who")
    return page


def test_a_step_warning_on_the_feed_and_a_yellow_then_red_light_on_the_board(
        browser, simulated_api: str, org: Org, artifacts) -> None:
    feed = _page(browser, simulated_api, org.users["operator"], "#/map")
    board = _page(browser, simulated_api, org.users["shift_leader"], "#/cases")
    token = httpx.post(f"{simulated_api}/auth/token", data={"username": org.users["inspector"],
                                                              "password": PASSWORD}, timeout=10).json()
    r = httpx.post(f"{simulated_api}/cases", headers={"Authorization": f"Bearer {token['access_token']}"},
                   json={"category_code": "E0104", "description": "时限预警测试", "lon": org.lon, "lat": org.lat},
                   timeout=10)
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]
    row = f"tr[data-case='{case_id}']"

    # 8 of accept's 10 working minutes: 24 wall seconds after the report; the deadline 6 seconds later (the board
    # reloads within about a second of the warning on the feed).
    board.wait_for_selector(f"{row} .light.green", timeout=30_000)
    warning = feed.wait_for_selector(f".feed-entry[data-case='{case_id}'][data-action='deadline_warning']",
                                     timeout=60_000)
    assert "受理时限已用 80%" in warning.inner_text()
    board.wait_for_selector(f"{row} .light.yellow", timeout=15_000)
    assert board.locator(f"{row} td.light-cell").get_attribute("data-step") == "accept"
    feed.screenshot(path=str(artifacts / "console-deadline-warning.png"))
    board.wait_for_selector(f"{row} .light.red", timeout=30_000)
    feed.wait_for_selector(f".feed-entry[data-case='{case_id}'][data-action='overdue']", timeout=15_000)
    assert "受理超期" in feed.locator(f".feed-entry[data-case='{case_id}'][data-action='overdue']").inner_text()

    board.click(f"{row} a")  # the detail: each step's clock
    board.wait_for_selector("table.step-clocks tr[data-step='accept'][data-status='running']")
    assert board.locator("table.step-clocks tr[data-step='file'][data-status='running']").count() == 1
    assert axe_critical(board) == []
    board.screenshot(path=str(artifacts / "console-step-clocks.png"))
