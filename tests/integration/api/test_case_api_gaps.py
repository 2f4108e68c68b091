"""What the simulated people lacked, through the real API and database: 受理 accept, 合并 merge, a department
reading the responsibility table, the list items' verified / check_passed / accepted_at / dispatched_at, and
setting a user's password (API and CLI)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from civicgrid.settings import Settings
from civicgrid.stack.ephemeral import as_environment
from tests.integration.api.conftest import CELLS, PASSWORD
from tests.integration.api.test_case_workflow import report, step

pytestmark = pytest.mark.integration

Headers = Callable[[str], dict[str, str]]


def _call(client: TestClient, as_user: Headers, cell: int = 9, category: str = "E0505") -> dict:
    point = CELLS[cell][1].representative_point()
    r = client.post("/cases/calls", headers=as_user("api-operator"), json={
        "caller_name": "李女士", "caller_phone": "13900000009", "category_code": category,
        "description": "门口车辆乱停", "lon": point.x, "lat": point.y})
    assert r.status_code == 201, r.text
    return r.json()


def _listed(client: TestClient, as_user: Headers, case: dict, who: str = "api-dispatcher") -> dict:
    r = client.get("/cases", headers=as_user(who), params={"reported_from": case["reported_at"], "limit": 500,
                                                           "cell_prefix": case["grid_cell_code"]})
    assert r.status_code == 200, r.text
    return next(c for c in r.json()["items"] if c["id"] == case["id"])


def test_accept_is_recorded_once_and_listed(client: TestClient, as_user: Headers, sql) -> None:
    case = report(client, as_user, cell=4)
    assert case["accepted_at"] is None and "accept" not in case["allowed_actions"]  # an inspector does not accept
    accepted = step(client, as_user, case["id"], "api-operator", "accept", {"note": "已受理"})
    assert accepted["state"] == "reported" and accepted["timeline"][-1]["action"] == "accept"
    assert accepted["accepted_at"] == accepted["timeline"][-1]["at"]
    assert _listed(client, as_user, case)["accepted_at"] is not None
    again = client.post(f"/cases/{case['id']}/accept", headers=as_user("api-leader"), json={})
    assert again.status_code == 409 and again.json()["type"].endswith("/precondition-failed")
    assert client.post(f"/cases/{case['id']}/accept", headers=as_user("api-dispatcher"), json={}).status_code == 403
    step(client, as_user, case["id"], "api-leader", "file")  # filing follows as before
    assert sql("SELECT count(*) FROM case_events WHERE case_id = %s AND action = 'accept'", case["id"]) == [(1,)]


def test_a_repeat_call_is_merged_into_the_open_case(client: TestClient, as_user: Headers, sql) -> None:
    first = _call(client, as_user)
    second = _call(client, as_user)
    merged = step(client, as_user, second["id"], "api-operator", "merge",
                  {"into": first["case_no"], "note": "同一问题的重复来电"})
    assert (merged["state"], merged["merged_into"]) == ("cancelled", first["id"])
    assert merged["timeline"][-1]["data"]["into_case_no"] == first["case_no"]
    # The open case keeps the repeat's caller (for feedback), once.
    kept = sql("SELECT data -> 'merged_from' FROM case_evidence WHERE case_id = %s AND data ? 'merged_from'",
               first["id"])
    assert len(kept) == 1 and kept[0][0]["case_id"] == second["id"]
    assert kept[0][0]["evidence"][0]["data"]["caller_phone"] == "13900000009"
    assert sql("SELECT state, snapshot ->> 'merged_into' FROM cases WHERE id = %s", second["id"]) == \
        [("cancelled", first["id"])]
    assert _listed(client, as_user, second)["merged_into"] == first["id"]

    third = _call(client, as_user)
    for into, kind in ((second["id"], "merge-refused"), (third["id"], "merge-refused"),
                       ("20990101-DEADBEEF", "unknown-case")):
        r = client.post(f"/cases/{third['id']}/merge", headers=as_user("api-leader"), json={"into": into})
        assert r.status_code == 422 and r.json()["type"].endswith(f"/{kind}"), r.text
    assert client.post(f"/cases/{third['id']}/merge", headers=as_user("api-leader"), json={}).status_code == 422
    assert client.post(f"/cases/{third['id']}/merge", headers=as_user("api-dispatcher"),
                       json={"into": first["id"]}).status_code == 403
    assert sql("SELECT state FROM cases WHERE id = %s", third["id"]) == [("reported",)]


def test_a_department_reads_the_responsibility_table(client: TestClient, as_user: Headers) -> None:
    r = client.get("/responsibility", headers=as_user("api-sanitation"))
    assert r.status_code == 200, r.text
    assert {"category_code": "E0102", "department_id": "sanitation"}.items() <= next(
        rule for rule in r.json() if rule["category_code"] == "E0102").items()
    assert client.get("/responsibility", headers=as_user("api-inspector")).status_code == 403


def test_list_items_say_verified_checked_and_dispatched(client: TestClient, as_user: Headers) -> None:
    case = _call(client, as_user, cell=3, category="E0102")
    assert {k: _listed(client, as_user, case)[k] for k in ("verified", "check_passed", "dispatched_at")} == \
        {"verified": False, "check_passed": False, "dispatched_at": None}
    step(client, as_user, case["id"], "api-operator", "send-verify")
    step(client, as_user, case["id"], "api-inspector", "confirm")
    assert _listed(client, as_user, case)["verified"] is True
    step(client, as_user, case["id"], "api-leader", "file")
    dispatched = step(client, as_user, case["id"], "api-dispatcher", "dispatch")
    listed = _listed(client, as_user, case, who="api-sanitation")
    assert listed["dispatched_at"] == dispatched["timeline"][-1]["at"] == dispatched["dispatched_at"]
    step(client, as_user, case["id"], "api-sanitation", "sign")
    step(client, as_user, case["id"], "api-sanitation", "dispose", {"note": "已清理"})
    step(client, as_user, case["id"], "api-operator", "send-check")
    assert _listed(client, as_user, case)["check_passed"] is False
    step(client, as_user, case["id"], "api-inspector", "check-pass")
    assert _listed(client, as_user, case)["check_passed"] is True


def test_an_admin_sets_a_password_through_the_api(client: TestClient, as_user: Headers, org: dict[str, int]) -> None:
    r = client.post("/users", headers=as_user("api-admin"), json={"username": "api-pw-user", "role": "operator"})
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    r = client.post(f"/users/{user_id}/password", headers=as_user("api-admin"), json={"password": "a-new-secret-1"})
    assert r.status_code == 200 and r.json() == {"id": user_id, "username": "api-pw-user", "password": None}
    login = {"username": "api-pw-user", "password": "a-new-secret-1"}
    token = client.post("/auth/token", data=login).json()["access_token"]
    assert client.get("/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    time.sleep(1.05)  # a token's issue time is in whole seconds: the change comes in a later second
    generated = client.post(f"/users/{user_id}/password", headers=as_user("api-admin"), json={}).json()["password"]
    assert client.post("/auth/token", data=login).status_code == 401
    # The change ends the token issued before it; one issued after it works.
    stale = client.get("/cases", headers={"Authorization": f"Bearer {token}"})
    assert stale.status_code == 401 and "changed their password" in stale.json()["detail"], stale.text
    fresh = client.post("/auth/token", data={**login, "password": generated})
    assert fresh.status_code == 200
    assert client.get("/cases", headers={"Authorization": f"Bearer {fresh.json()['access_token']}"}).status_code == 200
    assert client.post(f"/users/{user_id}/password", headers=as_user("api-admin"),
                       json={"password": "short"}).status_code == 422
    assert client.post("/users/999999999/password", headers=as_user("api-admin"), json={}).status_code == 404
    assert client.post(f"/users/{user_id}/password", headers=as_user("api-operator"), json={}).status_code == 403
    assert client.post("/auth/token", data={"username": "api-operator", "password": PASSWORD}).status_code == 200


def test_the_cli_sets_a_password(client: TestClient, api_settings: Settings) -> None:
    r = client.post("/auth/token", data={"username": "api-boss", "password": PASSWORD})
    assert r.status_code == 200
    env = {**os.environ, **as_environment(api_settings), "COLUMNS": "200"}

    def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "civicgrid.cli", "users", "password", *args], input=stdin,
                              capture_output=True, text=True, timeout=60, check=False, env=env)

    done = cli("api-pw-cli-nobody")
    assert done.returncode != 0 and "no user api-pw-cli-nobody" in done.stdout + done.stderr
    r = client.post("/users", headers={"Authorization": "Bearer " + r.json()["access_token"]},
                    json={"username": "api-pw-cli", "role": "leader"})
    assert r.status_code == 403  # only an admin makes users: make this one as the admin
    token = client.post("/auth/token", data={"username": "api-admin", "password": PASSWORD}).json()["access_token"]
    assert client.post("/users", headers={"Authorization": f"Bearer {token}"},
                       json={"username": "api-pw-cli", "role": "leader"}).status_code == 201
    done = cli("api-pw-cli", "--password-stdin", stdin="from-the-cli-1\n")
    assert done.returncode == 0, done.stderr
    assert client.post("/auth/token", data={"username": "api-pw-cli", "password": "from-the-cli-1"}).status_code == 200
    done = cli("api-pw-cli", stdin="")
    assert done.returncode == 0, done.stderr
    generated = done.stdout.strip().splitlines()[-1]
    assert client.post("/auth/token", data={"username": "api-pw-cli", "password": generated}).status_code == 200
    assert cli("api-pw-cli", "--password-stdin", stdin="short\n").returncode != 0
