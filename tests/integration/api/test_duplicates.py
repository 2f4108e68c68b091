"""Duplicates before filing: open cases of the same category within the rule pack's radius are offered, a report
is linked to one instead of being filed (its caller kept on the case), and an Open311 POST that repeats an open
request answers with that request's id."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
from fastapi.testclient import TestClient

from api.users import create_user
from civicgrid.broker.accounts import hash_secret
from civicgrid.cases.duplicates import DuplicateRule, candidates

Headers = Callable[[str], dict[str, str]]
M_LAT, M_LON = 1 / 111_000, 1 / 94_800  # degrees per metre at 31.5° N


def _place() -> tuple[float, float]:
    """A point of this test's own, far from the other API tests' (lon, lat)."""
    n = uuid.uuid4().int
    return 116.96 + n % 997 * 0.0001, 31.48 + (n >> 12) % 997 * 0.0001


def _report(client: TestClient, as_user: Headers, category: str, lon: float, lat: float) -> dict:
    r = client.post("/cases", headers=as_user("api-inspector"),
                    json={"category_code": category, "description": "路边堆物", "lon": lon, "lat": lat})
    assert r.status_code == 201, r.text
    return r.json()


def _candidates(client: TestClient, as_user: Headers, category: str, lon: float, lat: float, **extra) -> list[dict]:
    r = client.get("/duplicates", headers=as_user("api-operator"),
                   params={"category_code": category, "lon": lon, "lat": lat, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def test_open_cases_of_the_same_category_nearby_are_offered_and_a_report_linked(
        client: TestClient, as_user: Headers, db: psycopg.Connection) -> None:
    lon, lat = _place()
    case = _report(client, as_user, "E0507", lon, lat)

    (near,) = _candidates(client, as_user, "E0507", lon + 30 * M_LON, lat)
    assert (near["case_id"], near["case_no"], near["state"], near["callers"]) == \
        (case["id"], case["case_no"], "reported", 0)
    assert 28 < near["distance_m"] < 32
    assert _candidates(client, as_user, "E0507", lon, lat + 70 * M_LAT) == []  # beyond 50 m
    assert [c["case_id"] for c in _candidates(client, as_user, "E0507", lon, lat + 70 * M_LAT, radius_m=100)] == \
        [case["id"]]
    assert _candidates(client, as_user, "E0504", lon, lat) == []  # another category
    unknown = client.get("/duplicates", headers=as_user("api-operator"),
                         params={"category_code": "E0598", "lon": lon, "lat": lat})
    assert unknown.status_code == 422, unknown.text
    assert client.get("/duplicates", headers=as_user("api-sanitation"),
                      params={"category_code": "E0507", "lon": lon, "lat": lat}).status_code == 403

    r = client.post(f"/duplicates/{case['id']}/link", headers=as_user("api-operator"), json={
        "caller_name": "王先生", "caller_phone": "13800000001", "callback": True, "description": "门口又堆了"})
    assert r.status_code == 200, r.text
    assert (r.json()["case_id"], r.json()["case_no"]) == (case["id"], case["case_no"])
    callers = db.execute("SELECT name, phone, callback, linked, client FROM case_callers WHERE case_id = %s",
                         (case["id"],)).fetchall()
    assert callers == [("王先生", "13800000001", True, True, "api-operator")]
    (evidence,) = db.execute("SELECT data FROM case_evidence WHERE case_id = %s AND kind = 'report' "
                             "AND data ? 'linked'", (case["id"],)).fetchone()
    assert evidence["description"] == "门口又堆了" and evidence["by"] == "api-operator"
    state = client.get(f"/cases/{case['id']}", headers=as_user("api-boss")).json()["state"]
    assert state == "reported"  # a link adds a caller, not a step
    assert _candidates(client, as_user, "E0507", lon, lat)[0]["callers"] == 1

    r = client.post(f"/cases/{case['id']}/cancel", headers=as_user("api-leader"), json={"reason": "重复"})
    assert r.status_code == 200, r.text
    assert _candidates(client, as_user, "E0507", lon, lat) == []  # closed and cancelled cases are not offered
    r = client.post(f"/duplicates/{case['id']}/link", headers=as_user("api-operator"), json={"callback": True})
    assert r.status_code == 422 and r.json()["type"].endswith("/link-refused"), r.text
    missing = client.post(f"/duplicates/{uuid.uuid4()}/link", headers=as_user("api-operator"), json={})
    assert missing.status_code == 404, missing.text


def test_a_transfer_and_a_leaders_instruction_are_linked_with_their_body_reference_and_leader(
        client: TestClient, as_user: Headers, db: psycopg.Connection) -> None:
    """The console's transfer and instruction forms link too: the transferring body (with its reference and contact,
    kept for feedback when it asked) or the instructing leader is recorded on the case, as when either is filed."""
    lon, lat = _place()
    case = _report(client, as_user, "E0502", lon, lat)
    link = f"/duplicates/{case['id']}/link"

    incomplete = client.post(link, headers=as_user("api-operator"),
                             json={"channel": "transfer", "from_body": "县12345"})
    assert incomplete.status_code == 422 and "reference" in incomplete.text, incomplete.text
    assert client.post(link, headers=as_user("api-boss"), json={"channel": "leader"}).status_code == 422
    stray = client.post(link, headers=as_user("api-operator"), json={"channel": "hotline", "leader": "孙县长"})
    assert stray.status_code == 422 and "leader" in stray.text, stray.text
    # Only whom a source's own filing admits links a report of it: an inspector takes no transfer.
    side_door = client.post(link, headers=as_user("api-inspector"), json={
        "channel": "transfer", "from_body": "县12345", "reference": "ZB-SIDE-1"})
    assert side_door.status_code == 403, side_door.text

    r = client.post(link, headers=as_user("api-operator"), json={
        "channel": "transfer", "from_body": "县12345政务服务热线", "reference": "ZB-2026-000777",
        "caller_phone": "0564-8888888", "callback": True, "description": "群众反映门口堆物"})
    assert r.status_code == 200, r.text
    # The same transfer again (a second click, a re-sent form) is that link: no second caller, no second report.
    again = client.post(link, headers=as_user("api-operator"), json={
        "channel": "transfer", "from_body": "县12345政务服务热线", "reference": "ZB-2026-000777",
        "caller_phone": "0564-8888888", "callback": True, "description": "群众反映门口堆物"})
    assert again.status_code == 200 and again.json() == r.json(), again.text
    r = client.post(link, headers=as_user("api-boss"), json={
        "channel": "leader", "leader": "孙县长", "description": "请尽快清理"})
    assert r.status_code == 200, r.text

    callers = db.execute("SELECT channel, name, phone, account_id, callback, linked FROM case_callers "
                         "WHERE case_id = %s ORDER BY id", (case["id"],)).fetchall()
    assert callers == [("transfer", "县12345政务服务热线", "0564-8888888", "ZB-2026-000777", True, True),
                       ("leader", "孙县长", None, None, False, True)]
    reports = [row[0] for row in db.execute(
        "SELECT data FROM case_evidence WHERE case_id = %s AND kind = 'report' AND data ? 'linked' ORDER BY id",
        (case["id"],)).fetchall()]
    assert reports[0]["transfer"] == {"from_body": "县12345政务服务热线", "reference": "ZB-2026-000777"}
    assert reports[1]["instruction"] == {"leader": "孙县长", "text": "请尽快清理", "recorded_by": "api-boss"}
    shown = client.get(f"/cases/{case['id']}", headers=as_user("api-operator")).json()["evidence"]
    assert [e["data"].get("transfer", e["data"].get("instruction")) for e in shown if e["data"].get("linked")] == \
        [reports[0]["transfer"], reports[1]["instruction"]]


def test_an_inspectors_handheld_asks_and_links_its_report_with_its_photo(
        client: TestClient, as_user: Headers, org: dict[str, int], db: psycopg.Connection) -> None:
    """The handheld asks with its device credentials (as its inspector) before it queues a report, and links the
    report, photo included, to the open case it repeats (api/console/handheld/duplicates.js)."""
    device, secret = f"hh-dup-{uuid.uuid4().hex[:8]}", "s3cret-dup"
    # An inspector of its own: a second handheld of the shared inspector would take the tasks other tests send to
    # theirs (field tasks go to the inspector's handheld heard from last).
    inspector, _ = create_user(db, f"insp-{device}", "inspector")
    db.execute("INSERT INTO devices (id, kind, profile, secret_hash, inspector_user_id) "
               "VALUES (%s, 'handheld', 'handheld', %s, %s)", (device, hash_secret(secret), inspector.id))
    lon, lat = _place()
    case = _report(client, as_user, "E0506", lon, lat)

    asked = client.get("/duplicates", auth=(device, secret),
                       params={"category_code": "E0506", "lon": lon, "lat": lat + 10 * M_LAT})
    assert asked.status_code == 200, asked.text
    assert [c["case_id"] for c in asked.json()] == [case["id"]]
    assert client.get("/duplicates", auth=(device, "wrong"),
                      params={"category_code": "E0506", "lon": lon, "lat": lat}).status_code == 401

    photo = client.post("/media", auth=(device, secret),
                        files={"file": ("p.jpg", io.BytesIO(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + device.encode() * 40),
                                        "image/jpeg")})
    assert photo.status_code == 201, photo.text
    r = client.post(f"/duplicates/{case['id']}/link", auth=(device, secret), json={
        "channel": "inspector", "description": "还在堆着", "media_ids": [photo.json()["id"]]})
    assert r.status_code == 200, r.text
    (report_id, by, channel), = db.execute(
        "SELECT source_record_id, data ->> 'by', data ->> 'channel' FROM case_evidence "
        "WHERE case_id = %s AND kind = 'report' AND data ? 'linked'", (case["id"],)).fetchall()
    assert (by, channel) == (inspector.username, "inspector")
    photos = db.execute("SELECT data ->> 'media_id', data ->> 'report' FROM case_evidence "
                        "WHERE case_id = %s AND kind = 'photo'", (case["id"],)).fetchall()
    assert photos == [(photo.json()["id"], report_id)]
    unknown = client.post(f"/duplicates/{case['id']}/link", auth=(device, secret),
                          json={"channel": "inspector", "media_ids": ["0" * 64]})
    assert unknown.status_code == 422, unknown.text  # a photo not uploaded: nothing linked
    assert db.execute("SELECT count(*) FROM case_callers WHERE case_id = %s", (case["id"],)).fetchone() == (1,)


def test_an_open311_post_that_repeats_an_open_request_answers_with_its_id(
        client: TestClient, as_user: Headers, org: dict[str, int], db: psycopg.Connection) -> None:
    key = client.post("/api-keys", headers=as_user("api-admin"),
                      json={"user_id": org["api-operator"], "name": f"dup-{uuid.uuid4().hex[:6]}"}).json()["api_key"]
    lon, lat = _place()

    def post(**form: str) -> dict:
        r = client.post("/open311/v2/requests.json", data={"api_key": key, "service_code": "E0504", **form})
        assert r.status_code == 201, r.text
        return r.json()[0]

    first = post(lat=f"{lat}", long=f"{lon}", phone="13900000001", description="店外经营")
    again = post(lat=f"{lat + 20 * M_LAT}", long=f"{lon}", phone="13900000002", description="还在店外摆摊")
    assert again["service_request_id"] == first["service_request_id"]
    assert "已合并" in again["service_notice"] and "20 m" in again["service_notice"]
    rows = db.execute("SELECT k.phone, k.callback, k.linked FROM case_callers k JOIN cases c ON c.id = k.case_id "
                      "WHERE c.case_no = %s ORDER BY k.id", (first["service_request_id"],)).fetchall()
    assert rows == [("13900000001", True, False), ("13900000002", True, True)]
    forced = post(lat=f"{lat}", long=f"{lon}", file_as_new="true")
    assert forced["service_request_id"] != first["service_request_id"]
    far = post(lat=f"{lat + 80 * M_LAT}", long=f"{lon}")
    assert far["service_request_id"] not in (first["service_request_id"], forced["service_request_id"])

    # An inspector's case is the same problem too; once an Open311 caller is on it, Open311 shows it.
    lon, lat = _place()
    inspected = _report(client, as_user, "E0501", lon, lat)
    joined = client.post("/open311/v2/requests.xml", data={"api_key": key, "service_code": "E0501",
                                                           "lat": f"{lat}", "long": f"{lon}"})
    assert joined.status_code == 201 and inspected["case_no"] in joined.text, joined.text
    (shown,) = client.get(f"/open311/v2/requests/{inspected['case_no']}.json").json()
    assert (shown["service_code"], shown["status"]) == ("E0501", "open")


def test_the_radius_and_window_are_the_rule_packs(client: TestClient, as_user: Headers,
                                                  db: psycopg.Connection) -> None:
    lon, lat = _place()
    case = _report(client, as_user, "E0510", lon, lat)
    now = datetime.now(UTC)
    away = (lon + 150 * M_LON, lat)
    assert candidates(DuplicateRule(), db, "E0510", *away, now) == []
    (found,) = candidates(DuplicateRule(radius_m=200), db, "E0510", *away, now)
    assert found.case_id == case["id"] and 148 < found.distance_m < 152
    reported = datetime.fromisoformat(case["reported_at"])
    assert candidates(DuplicateRule(radius_m=200), db, "E0510", *away, reported.replace(year=reported.year + 1)) \
        == []  # outside the window


def test_the_api_follows_the_radius_and_window_of_the_loaded_pack(client: TestClient, as_user: Headers) -> None:
    """A pack loaded through /admin/rules with its own ``duplicates`` table (200 m, then a window of a second)
    decides GET /duplicates at once, without a restart; the shipped tables again restore the 50 m."""
    admin = as_user("api-admin")
    lon, lat = _place()
    case = _report(client, as_user, "E0503", lon, lat)
    away = (lon + 150 * M_LON, lat)
    try:
        assert client.post("/admin/rules", headers=admin, json={}).status_code in (200, 201)
        assert _candidates(client, as_user, "E0503", *away) == []  # the shipped 50 m
        wide = client.post("/admin/rules", headers=admin, json={"duplicates": {"radius_m": 200, "window_days": 30}})
        assert wide.status_code == 201, wide.text
        (found,) = _candidates(client, as_user, "E0503", *away)
        assert found["case_id"] == case["id"] and 148 < found["distance_m"] < 152
        short = client.post("/admin/rules", headers=admin,
                            json={"duplicates": {"radius_m": 200, "window_days": 1 / 86_400}})  # one second
        assert short.status_code == 201, short.text
        time.sleep(1.2)
        assert _candidates(client, as_user, "E0503", *away) == []  # reported before the window
    finally:
        assert client.post("/admin/rules", headers=admin, json={}).status_code == 201  # the shipped tables again
    assert _candidates(client, as_user, "E0503", *away) == []


def test_candidates_are_found_by_the_open_cases_index(db: psycopg.Connection) -> None:
    """EXPLAIN of the candidates query: an index of the open cases (the planner picks the partial GiST index of
    migration 0015 or the open cases' category index, by the table's numbers), never a scan of all cases."""
    db.execute("SET enable_seqscan = off")
    try:
        plan = "\n".join(r[0] for r in db.execute(
            "EXPLAIN SELECT id FROM cases c WHERE c.state NOT IN ('closed', 'cancelled') AND c.lon IS NOT NULL "
            "AND c.lat IS NOT NULL AND ST_DWithin(ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326)::geography, "
            "ST_SetSRID(ST_MakePoint(116.95, 31.47), 4326)::geography, 50) AND c.category_code = 'E0102'").fetchall())
    finally:
        db.execute("RESET enable_seqscan")
    assert "Seq Scan" not in plan and "Index" in plan, plan
