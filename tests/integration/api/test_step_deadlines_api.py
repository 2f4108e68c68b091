"""GET /cases/{id}/step-deadlines through the API and the database: each step's clock with the limits and calendar
of the version the case was filed under — a pack loaded later changes the clocks of new cases only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import psycopg
import pytest
from fastapi.testclient import TestClient

from civicgrid.cases.pack import shipped_pack
from civicgrid.domain.time_limits import Limit, Unit, deadline
from civicgrid.domain.working_calendar import default_calendar
from tests.integration.api.test_case_workflow import report, step

pytestmark = pytest.mark.integration

Headers = Callable[[str], dict[str, str]]


def _at(case: dict, action: str) -> datetime:
    return datetime.fromisoformat(next(e["at"] for e in case["timeline"] if e["action"] == action))


def _steps(client: TestClient, as_user: Headers, case_id: str, who: str = "api-leader") -> list[dict]:
    r = client.get(f"/cases/{case_id}/step-deadlines", headers=as_user(who))
    assert r.status_code == 200, r.text
    return r.json()["steps"]


def test_each_step_has_its_deadline_from_the_case_s_own_rules(client: TestClient, as_user: Headers) -> None:
    admin = as_user("api-admin")
    assert client.post("/admin/rules", headers=admin, json={}).status_code in (200, 201)
    case = report(client, as_user, "E0102")
    filed = step(client, as_user, case["id"], "api-leader", "file")
    reported_at, filed_at = _at(filed, "report"), _at(filed, "file")
    cal = default_calendar()
    steps = _steps(client, as_user, case["id"])
    assert [(s["step"], s["status"]) for s in steps] == [("accept", "on_time" if filed_at <= deadline(
        reported_at, Limit(10, Unit.MINUTES), cal) else "late"), ("file", steps[1]["status"]), ("dispatch", "running")]
    accept, file, dispatch = steps
    assert datetime.fromisoformat(accept["deadline"]) == deadline(reported_at, Limit(10, Unit.MINUTES), cal)
    assert datetime.fromisoformat(file["deadline"]) == deadline(reported_at, Limit(30, Unit.MINUTES), cal)
    assert datetime.fromisoformat(dispatch["deadline"]) == deadline(filed_at, Limit(30, Unit.MINUTES), cal)
    assert dispatch["ended_at"] is None and dispatch["on_time"] is None
    assert dispatch["light"] in ("green", "yellow", "red") and dispatch["limit"] == {"amount": 30.0,
                                                                                      "unit": "minutes"}
    assert client.get(f"/cases/{case['id']}/step-deadlines", headers=as_user("api-sanitation")).status_code == 404

    # A pack with a 2-hour natural dispatch limit: the case filed before keeps its 30 working minutes.
    limits = dict(shipped_pack().content["time_limits"])
    limits["steps"] = {**limits["steps"], "dispatch": {"amount": 2, "unit": "natural_hours"}}
    try:
        loaded = client.post("/admin/rules", headers=admin, json={"time_limits": limits})
        assert loaded.status_code == 201, loaded.text
        again = client.get(f"/cases/{case['id']}/step-deadlines", headers=as_user("api-leader")).json()
        assert again["rules_version"] == case["rules_version"] != loaded.json()["version"]
        assert again["steps"][-1]["deadline"] == dispatch["deadline"]
        later = step(client, as_user, report(client, as_user, "E0102")["id"], "api-leader", "file")
        new = client.get(f"/cases/{later['id']}/step-deadlines", headers=as_user("api-leader")).json()
        assert new["rules_version"] == loaded.json()["version"]
        assert new["steps"][-1]["step"] == "dispatch"
        assert datetime.fromisoformat(new["steps"][-1]["deadline"]) == deadline(
            _at(later, "file"), Limit(2, Unit.NATURAL_HOURS), cal)
        done = step(client, as_user, later["id"], "api-dispatcher", "dispatch", {"department_id": "sanitation"})
        dispatched = _steps(client, as_user, done["id"])[-1]
        assert (dispatched["status"], dispatched["on_time"]) == ("on_time", True)
        assert datetime.fromisoformat(dispatched["ended_at"]) == _at(done, "dispatch")
    finally:
        assert client.post("/admin/rules", headers=admin, json={}).status_code == 201


def test_a_case_filed_before_versions_existed_is_shown_and_judged_as_version_1(
        client: TestClient, as_user: Headers, db: psycopg.Connection) -> None:
    """An upgraded city's old cases keep `rules_version` NULL (their rows are not rewritten when version 1, the
    shipped defaults, is stored): the API shows them as version 1 and times their steps by it, not by a pack
    loaded since."""
    admin = as_user("api-admin")
    case = report(client, as_user, "E0102")
    filed = step(client, as_user, case["id"], "api-leader", "file")
    db.execute("UPDATE cases SET rules_version = NULL WHERE id = %s", (case["id"],))
    limits = dict(shipped_pack().content["time_limits"])
    limits["steps"] = {**limits["steps"], "dispatch": {"amount": 2, "unit": "natural_hours"}}
    try:
        assert client.post("/admin/rules", headers=admin, json={"time_limits": limits}).status_code == 201
        shown = client.get(f"/cases/{case['id']}", headers=as_user("api-leader")).json()
        clocks = client.get(f"/cases/{case['id']}/step-deadlines", headers=as_user("api-leader")).json()
        assert shown["rules_version"] == clocks["rules_version"] == 1
        assert datetime.fromisoformat(clocks["steps"][-1]["deadline"]) == deadline(
            _at(filed, "file"), Limit(30, Unit.MINUTES), default_calendar())
    finally:
        assert client.post("/admin/rules", headers=admin, json={}).status_code == 201
