"""Field tasks round trip: API 派核实/派核查 → outbox → cg.commands → gateway → a simulated handheld over MQTT →
its photo by HTTP and its answer report → gateway → stream worker → the case moves, with the photo as evidence."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest

from api.users import create_user
from civicgrid.settings import Settings
from gateway.service import Gateway
from simulators.devices import SimClock, SimContext
from simulators.mobile import Handheld
from tests.e2e.conftest import Corner
from tests.support.api import serve_api
from tests.support.services import wait_for

pytestmark = pytest.mark.e2e
PASSWORD = "field-task-password"


class HandheldThread:
    """The simulator's handheld, in its own event loop: walks, and answers the tasks it is sent."""

    def __init__(self, settings: Settings, device_id: str, secret: str, api_url: str, lon: float, lat: float) -> None:
        clock = SimClock(datetime.now(UTC), 1.0)  # real time: the gateway refuses timestamps from the future
        self.ctx = SimContext(settings.mqtt.host, settings.mqtt.port, clock, seed=7, report_rate=0.0,
                              intervals={"handheld": 1.0}, api_url=api_url)
        spec = {"id": device_id, "kind": "handheld", "route": [[lon, lat], [lon + 0.0004, lat]]}
        self.device = Handheld(spec, secret, self.ctx)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self.ctx.stopping = asyncio.Event()  # bound to this thread's loop
        async with httpx.AsyncClient() as client:
            self.ctx.http = client
            await self.device.run()

    def __enter__(self) -> HandheldThread:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.ctx.stopping.set)
        self.thread.join(30)


@pytest.fixture
def org(db: psycopg.Connection, corner: Corner) -> Iterator[dict]:
    """Departments, a responsibility grid on the corner's cell, one user per role; taken away afterwards,
    because the API tests rank the shared database's grids, posts and inspectors exactly."""
    made = _org(db, corner)
    yield made
    users = [u.username for k, u in made.items() if k not in ("dept", "grid")]
    db.execute("UPDATE users SET enabled = false, responsibility_grid_id = NULL WHERE username = ANY(%s)", (users,))
    db.execute("UPDATE grid_cells SET responsibility_grid_id = NULL WHERE responsibility_grid_id = %s",
               (made["grid"],))
    db.execute("DELETE FROM responsibility_grids WHERE id = %s", (made["grid"],))


def _org(db: psycopg.Connection, corner: Corner) -> dict:
    tag = uuid.uuid4().hex[:6]
    grid, dept = f"FT{tag}", f"ft-{tag}"
    db.execute("INSERT INTO departments (id, name) VALUES (%s, '环卫处')", (dept,))
    db.execute("INSERT INTO responsibility_grids (id, name) VALUES (%s, '核查测试网格')", (grid,))
    db.execute("UPDATE grid_cells SET responsibility_grid_id = %s WHERE code = %s", (grid, corner.cell))
    users = {}
    for role, extra in (("operator", {}), ("dispatcher", {}), ("shift_leader", {}),
                        ("department", {"department_id": dept}), ("inspector", {"responsibility_grid_id": grid})):
        user, _ = create_user(db, f"ft-{role}-{tag}", role, password=PASSWORD, **extra)
        users[role] = user
    return {"dept": dept, "grid": grid, **users}


def test_verify_and_check_tasks_reach_the_handheld_and_move_the_case(
        worker, gateway: Gateway, provision, corner: Corner, db: psycopg.Connection, org: dict, tmp_path: Path) -> None:
    settings, log = worker
    inspector = org["inspector"]
    device_id, secret = provision("handheld", inspector_user_id=inspector.id)

    with serve_api(settings, tmp_path / "media") as (base, _), \
            HandheldThread(settings, device_id, secret, base, corner.lon, corner.lat) as handheld:
        def client(role: str) -> httpx.Client:
            r = httpx.post(f"{base}/auth/token", data={"username": org[role].username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {r.json()['access_token']}"},
                                timeout=20)

        operator, dispatcher, leader, department = (client(r) for r in ("operator", "dispatcher", "shift_leader",
                                                                          "department"))
        wait_for(lambda: db.execute("SELECT 1 FROM telemetry WHERE device_id = %s", (device_id,)).fetchone(),
                 60, "the handheld online and reporting", log=log)

        r = operator.post("/cases/calls", json={"category_code": "E0102", "description": "路口有垃圾堆放",
                                                "grid_cell_code": corner.cell, "lon": corner.lon, "lat": corner.lat})
        assert r.status_code == 201, r.text
        case_id = r.json()["id"]

        def case() -> dict:
            return operator.get(f"/cases/{case_id}").json()

        r = operator.post(f"/cases/{case_id}/send-verify", json={})  # no inspector named: the cell's grid decides
        assert r.status_code == 200, r.text
        sent = r.json()["timeline"][-1]
        assert sent["action"] == "send_verify" and sent["data"]["task"]["device_id"] == device_id, sent

        # The handheld confirms on site: the stream worker applies 核实属实 as the inspector, photo attached.
        wait_for(lambda: case()["state"] == "reported", 60, "the verification answer applied", log=log)
        detail = case()
        confirm = detail["timeline"][-1]
        assert (confirm["action"], confirm["actor"], confirm["role"]) == ("confirm", inspector.username, "inspector")
        photos = [e for e in detail["evidence"] if e["kind"] == "photo"]
        assert len(photos) == 1, detail["evidence"]
        media = operator.get(f"/media/{photos[0]['data']['media_id']}")
        assert media.status_code == 200 and media.content[:3] == b"\xff\xd8\xff"

        for who, path, body in ((leader, "file", {}), (dispatcher, "dispatch", {"department_id": org["dept"]}),
                                (department, "sign", {}), (department, "dispose", {"note": "已清运"}),
                                (operator, "send-check", {"inspector_user_id": inspector.id})):
            r = who.post(f"/cases/{case_id}/{path}", json=body)
            assert r.status_code == 200, (path, r.text)

        wait_for(lambda: "check_pass" in [e["action"] for e in case()["timeline"]], 60, "the check answer applied",
                 log=log)
        r = leader.post(f"/cases/{case_id}/close", json={})
        assert r.status_code == 200 and r.json()["state"] == "closed", r.text

        # Both commands were acknowledged by the handheld, and each answer moved the case once.
        commands = operator.get(f"/devices/{device_id}/commands").json()
        wait_for(lambda: {c["status"] for c in operator.get(f"/devices/{device_id}/commands").json()} == {"acked"},
                 30, f"both commands acked ({commands})")
        actions = [e["action"] for e in case()["timeline"]]
        assert actions.count("confirm") == 1 and actions.count("check_pass") == 1, actions
        assert handheld.ctx.uploads["ok"] == 2 and not handheld.ctx.errors, (handheld.ctx.uploads, handheld.ctx.errors)


def test_a_handheld_uploads_only_with_its_own_secret(worker, provision, db: psycopg.Connection, org: dict,
                                                      tmp_path: Path) -> None:
    settings, _ = worker
    device_id, secret = provision("handheld", inspector_user_id=org["inspector"].id)
    sensor_id, sensor_secret = provision("manhole-sensor")
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 64
    with serve_api(settings, tmp_path / "media", background=False) as (base, _):
        def upload(user: str, password: str) -> httpx.Response:
            return httpx.post(f"{base}/media", auth=(user, password), files={"file": ("p.jpg", jpeg, "image/jpeg")})

        ok = upload(device_id, secret)
        assert ok.status_code == 201, ok.text
        owner = db.execute("SELECT uploaded_by FROM media WHERE id = %s", (ok.json()["id"],)).fetchone()
        assert owner == (org["inspector"].id,)  # the upload counts as the inspector's
        assert upload(device_id, "wrong-secret").status_code == 401
        assert upload(sensor_id, sensor_secret).status_code == 403  # not a handheld linked to an inspector
