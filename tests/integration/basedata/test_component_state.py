"""A component's state follows its cases, end to end (issue 20, item 6): a manhole sensor's alarm says a cover is
gone; the case service opens the case (as the stream worker's case builder does), the API's outbox relay publishes
its events on cg.case-events, the component-state follower reads them — the cover is 丢失 — and when the case is
worked through the API to its close after a passed check, the cover is 完好 again, each change in its history with
the case's number. A hotline report about a component that verification finds untrue gives the state back."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from civicgrid.basedata.follower import ComponentStateFollower
from civicgrid.bus.topics import CASE_EVENTS
from civicgrid.cases import CaseService
from civicgrid.cases.problem import Place, Problem
from civicgrid.clock import PlatformClock
from civicgrid.domain.case_state import Role, Source
from civicgrid.settings import Settings
from tests.integration.basedata.support import POINTS, codes
from tests.support.api_fixtures import wait_for
from tests.support.kafka import start_group_at_the_ends

pytestmark = pytest.mark.integration
Headers = Callable[[str], dict[str, str]]
# The order an admin works a case to its close; each step taken when the case allows it.
TO_CLOSE = ["send_verify", "confirm", "file", "dispatch", "sign", "dispose", "send_check", "check_pass", "close"]
DATA = {"dispose": {"note": "已更换井盖"}, "close": {"public_note": "井盖已恢复"}}


class AtComponent:
    """The case service's Locator for one registered component (the streams' is civicgrid's GeoResolver)."""

    def __init__(self, code: str, lon: float, lat: float, cell: str) -> None:
        self.code, self.lon, self.lat, self.cell = code, lon, lat, cell

    def component_category(self, component_code: str | None) -> str | None:
        return "C0101" if component_code == self.code else None

    def locate(self, *, component_code: str | None, device_cell: str | None, lon: float | None,
               lat: float | None) -> Place:
        return Place(self.cell, self.lon, self.lat, False)


@pytest.fixture
def follower(settings: Settings) -> Iterator[ComponentStateFollower]:
    group = f"component-state-test-{uuid.uuid4().hex[:8]}"
    start_group_at_the_ends(settings.kafka.bootstrap_servers, group, (CASE_EVENTS,), settings.kafka.partitions)
    service = ComponentStateFollower(settings, group_id=group, poll_s=0.2)
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    yield service
    stop.set()
    thread.join(10)
    service.close()


def _add_cover(client: TestClient, admin: dict[str, str], code: str) -> None:
    r = client.post("/basedata/components", headers=admin, json={
        "code": code, "name": "上水井盖", "lon": POINTS[1][0], "lat": POINTS[1][1], "department_id": "utilities",
        "reason": "竣工测量"})
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "intact" and r.json()["grid_cell_code"] is not None


def _work_to_close(client: TestClient, admin: dict[str, str], case_id: str) -> None:
    taken: list[str] = []
    for action in TO_CLOSE:  # in order, each one the case allows at that point
        case = client.get(f"/cases/{case_id}", headers=admin).json()
        if action in case["allowed_actions"]:
            r = client.post(f"/cases/{case_id}/{action.replace('_', '-')}", headers=admin, json=DATA.get(action, {}))
            assert r.status_code == 200, f"{action}: {r.text}"
            taken.append(action)
    state = client.get(f"/cases/{case_id}", headers=admin).json()["state"]
    assert state == "closed", f"case {case_id} is {state} after {taken}"


def _state(db: psycopg.Connection, code: str) -> str:
    row = db.execute("SELECT state FROM components WHERE code = %s", (code,)).fetchone()
    assert row is not None
    return str(row[0])


def test_a_cover_reported_missing_is_missing_until_its_case_closes_as_fixed(
        api_settings: Settings, client: TestClient, as_user: Headers, db: psycopg.Connection,
        follower: ComponentStateFollower) -> None:
    admin = as_user("api-admin")
    (code,) = codes(1)
    _add_cover(client, admin, code)
    cell = db.execute("SELECT grid_cell_code FROM components WHERE code = %s", (code,)).fetchone()[0]
    alarm = {"alarm_id": uuid.uuid4().hex, "kind": "manhole-sensor", "rule": "cover_opened", "category": "C0101",
             "linked_component": True, "component_state": "missing", "component_code": code}
    problem = Problem(source=Source.SENSOR, role=Role.OPERATOR, actor="device:manhole-t1",
                      source_record_id=f"alarm:{alarm['alarm_id']}", category="C0101", disposal_class="A",
                      at=PlatformClock.from_settings(api_settings.clock).now(), device_id="manhole-t1",
                      component_code=code, device_cell=cell, lon=None, lat=None, description="井盖开启",
                      evidence_kind="alarm", evidence=alarm)
    outcome = CaseService().record_problem(db, problem, AtComponent(code, *POINTS[1], cell), timedelta(hours=1))
    assert outcome.created
    assert wait_for(lambda: _state(db, code) == "missing", timeout_s=30), "the cover did not become missing"

    _work_to_close(client, admin, outcome.case_id)
    assert wait_for(lambda: _state(db, code) == "intact", timeout_s=30), "the cover did not become intact again"

    case_no = client.get(f"/cases/{outcome.case_id}", headers=admin).json()["case_no"]
    history = client.get(f"/basedata/components/{code}/history", headers=as_user("api-operator")).json()["items"]
    assert [(h["action"], h["before"], h["after"], h["case_no"]) for h in history] == [
        ("case", {"state": "missing"}, {"state": "intact"}, case_no),
        ("case", {"state": "intact"}, {"state": "missing"}, case_no),
        ("add", None, history[-1]["after"], None)]
    assert history[1]["reason"] == f"案件 {case_no} 上报：丢失" and history[0]["reason"].endswith("已修复：完好")
    assert history[1]["actor"] == "device:manhole-t1"


def test_a_report_verification_finds_untrue_gives_the_state_back(
        client: TestClient, as_user: Headers, db: psycopg.Connection, follower: ComponentStateFollower) -> None:
    admin = as_user("api-admin")
    (code,) = codes(1)
    _add_cover(client, admin, code)
    r = client.post("/cases", headers=as_user("api-operator"), json={
        "category_code": "C0101", "component_code": code, "lon": POINTS[1][0], "lat": POINTS[1][1],
        "description": "来电：井盖坏了"})
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]
    assert wait_for(lambda: _state(db, code) == "damaged", timeout_s=30)  # a report that does not say: 破损
    for action, body in (("send-verify", {}), ("refute", {"reason": "现场核实：井盖完好"})):
        done = client.post(f"/cases/{case_id}/{action}", headers=admin, json=body)
        assert done.status_code == 200, f"{action}: {done.text}"
    assert wait_for(lambda: _state(db, code) == "intact", timeout_s=30)
    history = client.get(f"/basedata/components/{code}/history", headers=admin).json()["items"]
    assert "作废" in history[0]["reason"] and history[0]["after"] == {"state": "intact"}
