"""Against a real uvicorn server with plain HTTP clients: the Open311 GeoReport v2 client flow, two dispatchers
racing, and the SSE feed resuming from Last-Event-ID within the caller's scope."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import httpx
import pytest

from tests.integration.api.conftest import PASSWORD, http

pytestmark = pytest.mark.integration


def _token(base: str, username: str) -> str:
    r = httpx.post(f"{base}/auth/token", data={"username": username, "password": PASSWORD}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def _step(c: httpx.Client, case_id: str, action: str, body: dict | None = None) -> dict:
    r = c.post(f"/cases/{case_id}/{action}", json=body or {})
    assert r.status_code == 200, f"{action}: {r.text}"
    return r.json()


def test_open311_client_flow(server: str, org: dict[str, int]) -> None:
    with http(server, _token(server, "api-admin")) as admin:
        r = admin.post("/api-keys", json={"user_id": org["api-operator"], "name": "12345 hotline",
                                          "scopes": ["open311", "api"]})
        assert r.status_code == 201, r.text
        api_key = r.json()["api_key"]

    # A GeoReport v2 client: discovery of services, then a form-encoded POST with api_key, then GETs.
    services = httpx.get(f"{server}/open311/v2/services.json").json()
    garbage = next(s for s in services if s["service_code"] == "E0102")
    assert (garbage["service_name"], garbage["group"], garbage["metadata"], garbage["type"]) == \
        ("暴露垃圾", "市容环境", False, "realtime")
    posted = httpx.post(f"{server}/open311/v2/requests.json", data={
        "api_key": api_key, "service_code": "E0102", "lat": "31.4605", "long": "116.9405",
        "address_string": "人民路 12 号", "description": "垃圾堆放三天无人清理", "first_name": "Li",
        "phone": "13900000000"})
    assert posted.status_code == 201, posted.text
    (created,) = posted.json()
    request_id = created["service_request_id"]

    (fetched,) = httpx.get(f"{server}/open311/v2/requests/{request_id}.json").json()
    assert (fetched["service_request_id"], fetched["status"], fetched["service_code"], fetched["lat"],
            fetched["long"]) == (request_id, "open", "E0102", 31.4605, 116.9405)
    assert fetched["description"] == "垃圾堆放三天无人清理" and fetched["agency_responsible"] is None

    # The city works the case; the citizen sees the department, the deadline, then "closed" with the note.
    with http(server) as c:  # this request's case (another test's hotline cases may be later: 2031's are)
        listed = c.get("/cases", params={"source": "hotline", "limit": 500}, headers={"X-Api-Key": api_key}).json()
        (case_id,) = [item["id"] for item in listed["items"] if item["case_no"] == request_id]
    roles = {n: http(server, _token(server, n)) for n in ("api-operator", "api-inspector", "api-leader",
                                                          "api-dispatcher")}
    _step(roles["api-operator"], case_id, "send-verify")
    _step(roles["api-inspector"], case_id, "confirm")
    _step(roles["api-leader"], case_id, "file")
    _step(roles["api-dispatcher"], case_id, "dispatch")
    (dispatched,) = httpx.get(f"{server}/open311/v2/requests.json",
                              params={"service_request_id": request_id}).json()
    assert dispatched["agency_responsible"] == "sanitation" and dispatched["expected_datetime"] is not None
    _step(roles["api-leader"], case_id, "suspend", {"reason": "需要专项资金", "public_note": "等待专项资金，已挂账"})
    for c in roles.values():
        c.close()
    listed = httpx.get(f"{server}/open311/v2/requests.json", params={"status": "open", "service_code": "E0102"})
    assert request_id in {r["service_request_id"] for r in listed.json()}
    (suspended,) = httpx.get(f"{server}/open311/v2/requests/{request_id}.json").json()
    assert (suspended["status"], suspended["status_notes"]) == ("open", "等待专项资金，已挂账")

    # Errors in the spec's shape.
    no_key = httpx.post(f"{server}/open311/v2/requests.json", data={"service_code": "E0102", "lat": 1, "long": 1})
    assert no_key.status_code == 403 and no_key.json()[0]["code"] == 403
    bad = httpx.post(f"{server}/open311/v2/requests.json", data={"api_key": api_key, "service_code": "X1",
                                                                  "lat": 1, "long": 1})
    assert bad.status_code == 400 and "service_code" in bad.json()[0]["description"]
    missing = httpx.get(f"{server}/open311/v2/requests/nope.json")
    assert missing.status_code == 404 and missing.json() == [{"code": 404, "description": "no service request nope"}]


def test_two_dispatchers_racing_make_one_dispatch(server: str, sql: Callable[..., list[tuple]]) -> None:
    with http(server, _token(server, "api-inspector")) as c:
        case_id = c.post("/cases", json={"category_code": "E0102", "grid_cell_code": "34152300100101"}).json()["id"]
    with http(server, _token(server, "api-leader")) as c:
        _step(c, case_id, "file")
    outcomes: list[tuple[str, int, dict]] = []
    barrier = threading.Barrier(2)

    def dispatch(user: str, department: str) -> None:
        with http(server, _token(server, user)) as c:
            barrier.wait()
            r = c.post(f"/cases/{case_id}/dispatch", json={"department_id": department})
            outcomes.append((department, r.status_code, r.json()))

    threads = [threading.Thread(target=dispatch, args=a) for a in (("api-dispatcher", "sanitation"),
                                                                    ("api-dispatcher2", "utilities"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(code for _, code, _ in outcomes) == [200, 409]
    (winner,) = [d for d, code, _ in outcomes if code == 200]
    (loser,) = [body for _, code, body in outcomes if code == 409]
    assert loser["state"] == "dispatched" and "dispatch" not in loser["allowed_actions"]
    assert sql("SELECT count(*) FROM case_events WHERE case_id = %s AND action = 'dispatch'", case_id) == [(1,)]
    assert sql("SELECT department_id FROM cases WHERE id = %s", case_id) == [(winner,)]


def _read_events(response: httpx.Response, count: int) -> list[dict[str, str]]:
    events, current = [], {}
    for line in response.iter_lines():
        if not line:
            if "data" in current:
                events.append(current)
                if len(events) == count:
                    return events
            current = {}
            continue
        field, _, value = line.partition(":")
        current[field] = value.lstrip(" ")
    return events


def test_sse_feed_is_scoped_and_resumes(server: str, db, sql) -> None:
    sanitation = _token(server, "api-sanitation")
    with http(server, _token(server, "api-inspector")) as c:
        mine = c.post("/cases", json={"category_code": "E0102", "grid_cell_code": "34152300100102"}).json()["id"]
        other = c.post("/cases", json={"category_code": "E0104", "grid_cell_code": "34152300100102"}).json()["id"]
    with httpx.Client(base_url=server, timeout=20, headers={"Authorization": f"Bearer {sanitation}"}) as feed, \
            feed.stream("GET", "/feed") as stream:
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        with http(server, _token(server, "api-leader")) as leader, \
                http(server, _token(server, "api-dispatcher")) as dispatcher:
            for case_id, department in ((other, "utilities"), (mine, "sanitation")):
                _step(leader, case_id, "file")
                _step(dispatcher, case_id, "dispatch", {"department_id": department})
            db.execute("INSERT INTO devices (id, kind, profile, secret_hash) VALUES ('feed-bin-1', 'bin-sensor', "
                       "'bin-sensor', 'x') ON CONFLICT DO NOTHING")
            db.execute("INSERT INTO alarms (time, alarm_id, device_id, rule, action, category_code, urgency, "
                       "grid_cell_code) VALUES (now(), 'a-1', 'feed-bin-1', 'overflow', 'raise', 'C0305', 'C', "
                       "'34152300100102')")
            _step(leader, mine, "suspend", {"reason": "资金"})
        first, second = _read_events(stream, 2)
    # The department saw only its own case (dispatch, then the suspension), not the other one nor the alarm.
    assert [(e["event"], e["data"].count(mine)) for e in (first, second)] == [("case_event", 1), ("case_event", 1)]
    assert '"dispatch"' in first["data"] and '"suspend"' in second["data"]

    # Resume after the first event: the second comes again; an operator sees the alarm too.
    headers = {"Authorization": f"Bearer {sanitation}", "Last-Event-ID": first["id"]}
    with httpx.stream("GET", f"{server}/feed", headers=headers, timeout=20) as stream:
        (again,) = _read_events(stream, 1)
    assert again["id"] == second["id"]
    operator = {"Authorization": f"Bearer {_token(server, 'api-operator')}", "Last-Event-ID": first["id"]}
    with httpx.stream("GET", f"{server}/feed", params={"kinds": "alarm"}, headers=operator, timeout=20) as stream:
        (alarm,) = _read_events(stream, 1)
    assert alarm["event"] == "alarm" and '"overflow"' in alarm["data"]


def test_an_alarm_acknowledged_once_reaches_every_console(server: str, db) -> None:
    """The operator acks; the leader's open feed gets `alarm_ack` naming who; a second ack returns the first."""
    db.execute("INSERT INTO devices (id, kind, profile, secret_hash) VALUES ('ack-mh-1', 'manhole-sensor', "
               "'manhole-sensor', 'x') ON CONFLICT DO NOTHING")
    db.execute("INSERT INTO alarms (time, alarm_id, device_id, rule, action, category_code, urgency, grid_cell_code) "
               "VALUES (now(), 'ack-a-1', 'ack-mh-1', 'cover_tilted', 'raise', 'C0114', 'A', '34152300100102')")
    leader = {"Authorization": f"Bearer {_token(server, 'api-boss')}"}
    with httpx.stream("GET", f"{server}/feed", params={"kinds": "alarm_ack"}, headers=leader, timeout=20) as stream:
        with http(server, _token(server, "api-operator")) as operator:
            first = operator.post("/alarms/ack-a-1/ack", json={"note": "已通知养护单位"})
        assert first.status_code == 200, first.text
        (event,) = _read_events(stream, 1)
    ack = json.loads(event["data"])
    assert (event["event"], ack["alarm_id"], ack["acked_by"], ack["note"]) == ("alarm_ack", "ack-a-1", "api-operator",
                                                                           "已通知养护单位")
    assert (first.json()["acked_by"], first.json()["first"], first.json()["note"]) == ("api-operator", True,
                                                                                      "已通知养护单位")
    with http(server, _token(server, "api-dispatcher")) as dispatcher:
        again = dispatcher.post("/alarms/ack-a-1/ack")
        unknown = dispatcher.post("/alarms/no-such-alarm/ack")
    assert again.status_code == 200 and (again.json()["acked_by"], again.json()["first"]) == ("api-operator", False)
    assert unknown.status_code == 404
    with http(server, _token(server, "api-inspector")) as inspector:
        assert inspector.post("/alarms/ack-a-1/ack").status_code == 403
