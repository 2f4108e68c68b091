"""The operator console in a real browser: Debian's chromium (headless, through Playwright's executable
path, no browser download) against the real stack — `civicgrid api` as a process serving the built
console, a gateway, a stream worker, and an organisation with one user per role.

Skipped, with the reason, when /usr/bin/chromium or the built console (api/console/dist) is absent.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import psycopg
import pytest

from api.static_console import CONSOLE_DIST
from api.users import create_user
from civicgrid.settings import Settings
from civicgrid.store.db import connect
from tests.e2e.conftest import worker  # noqa: F401  (a real stream worker for the alarm → case path)
from tests.support.services import start_api, stop_service
from tests.support.stack import free_ports

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[2] / "api" / "console" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "console"
PASSWORD = "console-test-password"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
               # a microphone that plays a tone, and no prompt for it: the handheld's voice notes
               "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = None
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is absent (apt-get install chromium; make setup does it)"
    elif not (CONSOLE_DIST / "index.html").exists():
        reason = "the console is not built (make setup runs npm ci && npm run build in api/console)"
    for item in items:
        if reason and "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=reason))


@dataclass(frozen=True)
class Org:
    """Who logs in, and the corner of the county the console test works in."""

    suffix: str
    users: dict[str, str]          # role key → username
    grid: str
    cell: str
    other_cell: str
    component: str
    lon: float
    lat: float
    department: str
    other_department: str


@pytest.fixture(scope="package")
def org(settings: Settings) -> Iterator[Org]:
    """Two departments, a responsibility grid with two cells, a sewage cover, one user per role.

    Package-scoped: afterwards the users are disabled and the grid dissolved, so the tests that run
    later in the session (exact scoring tables of posts and grids) do not see them."""
    s = uuid.uuid4().hex[:6]
    lon, lat = 116.9 + random.random() * 0.05, 31.44 + random.random() * 0.05
    d = 0.001
    street = random.randrange(100, 600)  # GB/T 10114: streets 001–599
    cell, other_cell = (f"341523{street:03d}001{n:02d}" for n in (1, 2))
    component = f"3415230102{random.randrange(10**6):06d}"
    department, other_department = f"ui-sewage-{s}", f"ui-water-{s}"
    grid = f"UI-{s}"
    users = {"operator": f"ui-operator-{s}", "shift_leader": f"ui-leader-{s}", "dispatcher": f"ui-dispatcher-{s}",
             "department": f"ui-sewage-{s}", "other_department": f"ui-water-{s}", "inspector": f"ui-inspector-{s}",
             "leader": f"ui-boss-{s}"}
    with connect(settings.db, autocommit=True) as conn:
        conn.execute("INSERT INTO departments (id, name, name_en) VALUES (%s, '县排水管理处', 'Drainage office'), "
                     "(%s, '县自来水公司', 'Water supply')", (department, other_department))
        conn.execute("INSERT INTO responsibility_grids (id, name) VALUES (%s, '测试责任网格')", (grid,))
        for n, code in enumerate((cell, other_cell)):
            x = lon + n * d
            ring = [[x, lat], [x + d, lat], [x + d, lat + d], [x, lat + d], [x, lat]]
            conn.execute("INSERT INTO grid_cells (code, responsibility_grid_id, geometry, area_m2) "
                         "VALUES (%s, %s, %s, 10000)", (code, grid, orjson.dumps({"type": "Polygon",
                                                                                   "coordinates": [ring]}).decode()))
        # The cover's 主管部门 is the drainage office: dispatch suggests it whatever the rule table says.
        conn.execute("INSERT INTO components (code, category_code, name, department_id, grid_cell_code, lon, lat) "
                     "VALUES (%s, 'C0102', '污水井盖', %s, %s, %s, %s)",
                     (component, department, cell, lon + d / 2, lat + d / 2))
        roles = {"operator": ("operator", None, None), "shift_leader": ("shift_leader", None, None),
                 "dispatcher": ("dispatcher", None, None), "department": ("department", department, None),
                 "other_department": ("department", other_department, None),
                 "inspector": ("inspector", None, grid), "leader": ("leader", None, None)}
        for key, (role, dept, g) in roles.items():
            create_user(conn, users[key], role, department_id=dept, responsibility_grid_id=g, password=PASSWORD,
                        display_name=f"{key} {s}")
    yield Org(s, users, grid, cell, other_cell, component, lon + d / 2, lat + d / 2, department, other_department)
    with connect(settings.db, autocommit=True) as conn, conn.transaction():
        conn.execute("UPDATE users SET enabled = false, responsibility_grid_id = NULL WHERE username = ANY(%s)",
                     (list(users.values()),))
        conn.execute("UPDATE grid_cells SET responsibility_grid_id = NULL WHERE responsibility_grid_id = %s", (grid,))
        conn.execute("DELETE FROM responsibility_grids WHERE id = %s", (grid,))


@pytest.fixture(scope="package")
def console_url(settings: Settings, org: Org, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`civicgrid api` as a process (the real server with its background loops), serving the console."""
    (port,) = free_ports(1)
    media = tmp_path_factory.mktemp("console-media")
    api_settings = settings.model_copy(update={"api": settings.api.model_copy(update={"port": port,
                                                                                       "media_dir": media})})
    proc, base = start_api(api_settings, tmp_path_factory.mktemp("console-api") / "api.log")
    try:
        yield base
    finally:
        stop_service(proc)


@pytest.fixture(scope="package")
def token(console_url: str) -> Callable[[str], str]:
    def get(username: str) -> str:
        r = httpx.post(f"{console_url}/auth/token", data={"username": username, "password": PASSWORD}, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["access_token"]
    return get


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def new_page(browser, console_url: str) -> Iterator[Callable[..., object]]:
    """new_page(username) → a page in a fresh browser context, logged in through the login form."""
    contexts = []

    def make(username: str, hash_: str = "", lang: str = "zh", live: bool = True):
        ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN",
                                  timezone_id="Asia/Shanghai")
        contexts.append(ctx)
        if not live:  # a page whose live feed is cut (a stale view): what it shows does not follow the case
            ctx.route("**/feed", lambda route: route.abort())
        page = ctx.new_page()
        page.set_default_timeout(20_000)
        # First visit only: the page's own language switch must survive its reload.
        page.add_init_script(f"if (!localStorage.getItem('civicgrid.lang')) {{ localStorage.setItem('civicgrid.lang', "
                             f"'{lang}'); localStorage.setItem('civicgrid.muted', '1'); }}")
        page.goto(f"{console_url}/{hash_}")
        page.fill("#login-user", username)
        page.fill("#login-password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("header .who")
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def axe_critical(page) -> list[dict]:
    """Critical axe-core violations on the page as it is now (axe bundled from npm, injected).

    Evaluated through the DevTools protocol rather than added as a <script>: the console's
    Content-Security-Policy rightly refuses inline scripts it does not know the hash of."""
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] == "critical"]


@pytest.fixture
def sql(db: psycopg.Connection) -> Callable[..., list[tuple]]:
    return lambda query, *params: db.execute(query, params).fetchall()
