"""A full case life over HTTP against the real database: report → file → dispatch → (postpone) → dispose →
check fails (rework) → dispose → check passes → close; wrong roles get 403, illegal actions 409."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from api.routes.cases import ACTIONS
from civicgrid.bus import topics
from civicgrid.domain.permissions import default_permissions
from civicgrid.domain.working_calendar import CHINA_TZ
from civicgrid.settings import Settings
from tests.integration.api.conftest import CELLS, USERS
from tests.support.kafka import KafkaTail

pytestmark = pytest.mark.integration

Headers = Callable[[str], dict[str, str]]


def _inside(n: int) -> tuple[float, float]:
    point = CELLS[n][1].representative_point()
    return point.x, point.y


def report(client: TestClient, as_user: Headers, category: str = "E0102", who: str = "api-inspector",
           cell: int = 2) -> dict:
    lon, lat = _inside(cell)
    r = client.post("/cases", headers=as_user(who), json={"category_code": category, "description": "路边垃圾堆放",
                                                            "lon": lon, "lat": lat, "address": "人民路 12 号"})
    assert r.status_code == 201, r.text
    return r.json()


def step(client: TestClient, as_user: Headers, case_id: str, who: str, action: str, body: dict | None = None,
         expect: int = 200) -> dict:
    r = client.post(f"/cases/{case_id}/{action}", headers=as_user(who), json=body or {})
    assert r.status_code == expect, f"{action} by {who}: {r.status_code} {r.text}"
    return r.json()


def test_full_case_life_with_postponement_and_rework(client: TestClient, as_user: Headers, api_settings: Settings,
                                                      sql) -> None:
    tail = KafkaTail(api_settings.kafka.bootstrap_servers, [topics.CASE_EVENTS])
    case = report(client, as_user)
    case_id = case["id"]
    assert (case["state"], case["source"], case["grid_cell_code"]) == ("reported", "inspector", CELLS[2][0])
    assert "file" not in case["allowed_actions"]  # an inspector cannot file

    filed = step(client, as_user, case_id, "api-leader", "file", {"disposal_class": "C"})
    assert (filed["state"], filed["suggested_department_id"]) == ("filed", "sanitation")
    assert "transfer" not in filed["allowed_actions"]  # a town without centres (docs/centres.md) offers no move

    dispatched = step(client, as_user, case_id, "api-dispatcher", "dispatch")  # confirms the suggestion
    assert (dispatched["state"], dispatched["department_id"]) == ("dispatched", "sanitation")
    first_deadline = datetime.fromisoformat(dispatched["disposal_deadline"])

    # Another department does not even see the case.
    assert client.post(f"/cases/{case_id}/sign", headers=as_user("api-utilities"), json={}).status_code == 404
    assert client.get(f"/cases/{case_id}", headers=as_user("api-utilities")).status_code == 404
    step(client, as_user, case_id, "api-sanitation", "sign")
    step(client, as_user, case_id, "api-sanitation", "request-postpone",
         {"extension": {"amount": 1, "unit": "days"}, "reason": "需要采购材料"})
    postponed = step(client, as_user, case_id, "api-dispatcher", "approve-postpone")
    assert postponed["postpone_count"] == 1 and postponed["pending"] is None
    assert datetime.fromisoformat(postponed["disposal_deadline"]) > first_deadline

    step(client, as_user, case_id, "api-sanitation", "dispose", {"note": "已清理"})
    step(client, as_user, case_id, "api-operator", "send-check")
    reworked = step(client, as_user, case_id, "api-inspector", "check-fail", {"reason": "仍有垃圾"})
    assert (reworked["state"], reworked["rework_count"]) == ("dispatched", 1)

    step(client, as_user, case_id, "api-sanitation", "sign")
    step(client, as_user, case_id, "api-sanitation", "dispose", {"note": "已彻底清理"})
    step(client, as_user, case_id, "api-operator", "send-check")
    step(client, as_user, case_id, "api-inspector", "check-pass")
    closed = step(client, as_user, case_id, "api-leader", "close")
    assert (closed["state"], closed["close_type"], closed["allowed_actions"]) == ("closed", "normal", [])

    actions = [e["action"] for e in closed["timeline"]]
    assert actions == ["report", "file", "dispatch", "sign", "request_postpone", "approve_postpone", "dispose",
                       "send_check", "check_fail", "sign", "dispose", "send_check", "check_pass", "close"]
    assert sql("SELECT state, rework_count, postpone_count, version, closed_at IS NOT NULL FROM cases WHERE id = %s",
               case_id) == [("closed", 1, 1, 14, True)]
    # The outbox relay of the API published every transition on cg.case-events.
    try:
        tail.collect(lambda rs: sum(k == case_id.encode() for _, k, _ in rs) >= 14)
    finally:
        tail.close()
    assert [v["action"] for _, k, v in tail.records if k == case_id.encode()] == actions


def test_illegal_action_is_409_naming_the_allowed_ones(client: TestClient, as_user: Headers) -> None:
    case_id = report(client, as_user)["id"]
    r = client.post(f"/cases/{case_id}/close", headers=as_user("api-leader"), json={})
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/illegal-transition") and body["state"] == "reported"
    assert body["allowed_actions"] == ["accept", "cancel", "escalate", "file", "instruct", "merge", "self_handle",
                                       "send_verify", "transfer"]
    assert "allowed: accept, cancel, escalate, file" in body["detail"]


def test_each_action_refuses_a_wrong_role_with_403(client: TestClient, as_user: Headers) -> None:
    case_id = report(client, as_user)["id"]
    permissions = default_permissions()
    by_role = {role: name for name, (role, _, _) in reversed(USERS.items())}
    for action, path, _, _ in ACTIONS:
        allowed = {r.value for r in permissions.roles_for(action)} | {"admin"}
        wrong = next(name for role, name in by_role.items() if role not in allowed)
        r = client.post(f"/cases/{case_id}/{path}", headers=as_user(wrong), json={})
        assert r.status_code == 403, f"{path} by {wrong}: {r.status_code}"
        assert r.json()["type"].endswith("/forbidden")


def test_missing_data_is_422_and_unauthenticated_is_401(client: TestClient, as_user: Headers) -> None:
    case_id = report(client, as_user)["id"]
    r = client.post(f"/cases/{case_id}/cancel", headers=as_user("api-leader"), json={})
    assert r.status_code == 422 and "reason" in r.json()["detail"]
    assert client.get("/cases").status_code == 401
    assert client.get("/cases", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_hotline_reports_must_be_verified_and_cancel_works(client: TestClient, as_user: Headers) -> None:
    r = client.post("/cases/calls", headers=as_user("api-operator"), json={
        "caller_name": "王先生", "caller_phone": "13800000000", "category_code": "E0505", "description": "车辆乱停"})
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["source"] == "hotline" and case["evidence"][0]["data"]["caller_phone"] == "13800000000"
    r = client.post(f"/cases/{case['id']}/file", headers=as_user("api-leader"), json={})
    assert r.status_code == 409 and r.json()["type"].endswith("/precondition-failed")
    step(client, as_user, case["id"], "api-operator", "send-verify")
    step(client, as_user, case["id"], "api-inspector", "refute", {"reason": "现场无车辆"})
    assert client.get(f"/cases/{case['id']}", headers=as_user("api-boss")).json()["state"] == "cancelled"


def test_return_goes_back_to_filed_and_suspension_resumes(client: TestClient, as_user: Headers) -> None:
    case_id = report(client, as_user, category="E0104")["id"]
    step(client, as_user, case_id, "api-leader", "file")
    step(client, as_user, case_id, "api-dispatcher", "dispatch", {"department_id": "utilities"})
    step(client, as_user, case_id, "api-utilities", "request-return", {"reason": "不属于我单位"})
    back = step(client, as_user, case_id, "api-dispatcher", "approve-return")
    assert (back["state"], back["department_id"], back["return_count"]) == ("filed", None, 1)
    assert back["suggested_department_id"] == "streets"  # E01 rule: the major's department
    step(client, as_user, case_id, "api-leader", "suspend", {"reason": "需要专项资金"})
    resumed = step(client, as_user, case_id, "api-leader", "resume")
    assert resumed["state"] == "filed"


class _Fixed:
    """The platform clock (civicgrid/clock.py) of the test's app, set by hand."""

    def __init__(self, clock: dict[str, datetime]) -> None:
        self.clock = clock

    def now(self) -> datetime:
        return self.clock["now"]


def test_resume_moves_the_disposal_deadline_on_by_the_suspension(client: TestClient, as_user: Headers,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """挂账 stops the clock: four working hours from Monday 09:00, suspended 10:00 until Wednesday 10:00."""
    clock = {"now": datetime(2026, 6, 1, 9, 0, tzinfo=CHINA_TZ)}  # a Monday, no holiday near
    monkeypatch.setattr(client.app.state.ctx, "clock", _Fixed(clock))
    case_id = report(client, as_user, category="E0104")["id"]
    step(client, as_user, case_id, "api-leader", "file", {"disposal_class": "B"})
    dispatched = step(client, as_user, case_id, "api-dispatcher", "dispatch", {"department_id": "utilities"})
    due = datetime.fromisoformat(dispatched["disposal_deadline"])
    assert due == datetime(2026, 6, 1, 15, 0, tzinfo=CHINA_TZ)  # 09:00-12:00 and 14:00-15:00
    clock["now"] = datetime(2026, 6, 1, 10, 0, tzinfo=CHINA_TZ)
    step(client, as_user, case_id, "api-leader", "suspend", {"reason": "需要专项资金"})
    clock["now"] = datetime(2026, 6, 3, 10, 0, tzinfo=CHINA_TZ)
    resumed = step(client, as_user, case_id, "api-leader", "resume")
    assert resumed["state"] == "dispatched"
    assert datetime.fromisoformat(resumed["disposal_deadline"]) == datetime(2026, 6, 3, 15, 0, tzinfo=CHINA_TZ)


def test_the_case_list_carries_the_time_light_the_detail_shows(client: TestClient, as_user: Headers,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Four working hours from Monday 09:00 (due 15:00): green, then yellow past 80 %, red past the deadline."""
    clock = {"now": datetime(2026, 6, 8, 9, 0, tzinfo=CHINA_TZ)}  # a Monday
    monkeypatch.setattr(client.app.state.ctx, "clock", _Fixed(clock))
    case_id = report(client, as_user, category="E0104")["id"]
    step(client, as_user, case_id, "api-leader", "file", {"disposal_class": "B"})

    def lights() -> tuple[str | None, str | None]:
        day = {"reported_from": "2026-06-08T00:00:00+08:00", "reported_to": "2026-06-09T00:00:00+08:00",
               "limit": 500}
        items = client.get("/cases", headers=as_user("api-boss"), params=day).json()["items"]
        (listed,) = [c["light"] for c in items if c["id"] == case_id]
        return listed, client.get(f"/cases/{case_id}", headers=as_user("api-boss")).json()["light"]

    assert lights() == (None, None)  # not dispatched: no clock yet
    step(client, as_user, case_id, "api-dispatcher", "dispatch", {"department_id": "utilities"})
    for at, light in ((datetime(2026, 6, 8, 9, 30), "green"), (datetime(2026, 6, 8, 14, 30), "yellow"),
                      (datetime(2026, 6, 8, 15, 30), "red")):
        clock["now"] = at.replace(tzinfo=CHINA_TZ)
        assert lights() == (light, light), at
