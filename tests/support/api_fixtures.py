"""The API against the session's real stack: an in-process app (TestClient), a real uvicorn server,
and an organisation (departments, a responsibility grid with cells, one user per role).

Session fixtures shared by tests/integration/api/ and tests/security/ (registered in tests/conftest.py),
so the organisation is created once per run."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from api.app import create_app
from api.users import create_user
from civicgrid.domain.synthetic import jittered_grid
from civicgrid.settings import Settings
from civicgrid.store.db import connect
from tests.support.stack import free_ports

PASSWORD = "correct-horse-battery"
# One user per role; departments are bound to a department, the inspector to grid G1.
USERS = {
    "api-admin": ("admin", None, None),
    "api-operator": ("operator", None, None),
    "api-dispatcher": ("dispatcher", None, None),
    "api-dispatcher2": ("dispatcher", None, None),
    "api-leader": ("shift_leader", None, None),
    "api-boss": ("leader", None, None),
    "api-inspector": ("inspector", None, "G1"),
    "api-sanitation": ("department", "sanitation", None),
    "api-utilities": ("department", "utilities", None),
}
CELLS = jittered_grid(4, 4)  # 16 cells of ≈ 100 m, street 001 community 001


@pytest.fixture(scope="session")
def api_settings(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    (port,) = free_ports(1)
    api = settings.api.model_copy(update={"port": port, "media_dir": Path(tmp_path_factory.mktemp("media")),
                                          "max_upload_bytes": 64 * 1024})
    return settings.model_copy(update={"api": api})


@pytest.fixture(scope="session")
def org(api_settings: Settings) -> dict[str, int]:
    """Departments, grid G1 (half the cells), the responsibility table, and the users; returns user ids."""
    with connect(api_settings.db, autocommit=True) as conn:
        conn.execute("INSERT INTO departments (id, name) VALUES ('sanitation', '环卫处'), ('utilities', '市政处'), "
                     "('streets', '城关街道') ON CONFLICT DO NOTHING")
        conn.execute("INSERT INTO responsibility_grids (id, name) VALUES ('G1', '一号责任网格') ON CONFLICT DO NOTHING")
        for n, (code, polygon) in enumerate(CELLS):
            conn.execute("INSERT INTO grid_cells (code, responsibility_grid_id, geometry, area_m2) "
                         "VALUES (%s, %s, %s, 10000) ON CONFLICT DO NOTHING",
                         (code, "G1" if n < 8 else None, Jsonb(polygon.__geo_interface__)))
        conn.execute("INSERT INTO responsibility_rules (category_code, grid_prefix, department_id) VALUES "
                     "('E01', '', 'streets'), ('E0102', '', 'sanitation'), ('C01', '', 'utilities') "
                     "ON CONFLICT DO NOTHING")
        ids = {}
        for name, (role, department, grid) in USERS.items():
            user, _ = create_user(conn, name, role, department_id=department, responsibility_grid_id=grid,
                                  password=PASSWORD)
            ids[name] = user.id
    return ids


@pytest.fixture(scope="session")
def client(api_settings: Settings, org: dict[str, int]) -> Iterator[TestClient]:
    """The app in process (lifespan runs: pool, outbox relay, ack reader)."""
    with TestClient(create_app(api_settings), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="session")
def server(api_settings: Settings, org: dict[str, int]) -> Iterator[str]:
    """The app under a real uvicorn server on a free port; yields its base URL."""
    config = uvicorn.Config(create_app(api_settings, background=False), host="127.0.0.1",
                            port=api_settings.api.port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{api_settings.api.port}"
    srv.should_exit = True
    thread.join(15)


@pytest.fixture(scope="session")
def tokens(client: TestClient) -> dict[str, str]:
    out = {}
    for name in USERS:
        r = client.post("/auth/token", data={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        out[name] = r.json()["access_token"]
    return out


@pytest.fixture(scope="session")
def as_user(tokens: dict[str, str]) -> Callable[[str], dict[str, str]]:
    """Headers of a user: as_user("api-dispatcher")."""
    return lambda name: {"Authorization": f"Bearer {tokens[name]}"}


@pytest.fixture
def sql(db: psycopg.Connection) -> Callable[..., list[tuple]]:
    return lambda query, *params: db.execute(query, params).fetchall()


def wait_for(predicate: Callable[[], object], timeout_s: float = 15.0, step_s: float = 0.1) -> object:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(step_s)


def http(base_url: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=20)
