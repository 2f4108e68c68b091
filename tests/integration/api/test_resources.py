"""Case list filters and pagination, media, devices and commands, scoring and coverage — through the app
against the real database and Kafka."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from confluent_kafka import Producer
from fastapi.testclient import TestClient

from civicgrid.bus import topics
from civicgrid.bus.command_records import CommandAckRecord
from civicgrid.settings import Settings
from tests.integration.api.conftest import wait_for
from tests.support.kafka import KafkaTail
from tests.support.photos import label_photo

pytestmark = pytest.mark.integration
Headers = Callable[[str], dict[str, str]]
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4


def _new(client: TestClient, as_user: Headers, category: str, cell: str) -> str:
    r = client.post("/cases", headers=as_user("api-inspector"),
                    json={"category_code": category, "grid_cell_code": cell})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_list_filters_scope_and_cursor(client: TestClient, as_user: Headers) -> None:
    tag = uuid.uuid4().hex[:6]
    start = datetime.now(UTC)
    ids = [_new(client, as_user, "E0507", "34152300100104") for _ in range(5)]
    other = _new(client, as_user, "C0305", "34152300100117")  # outside grid G1
    seen, cursor = [], None
    params = {"category_code": "E05", "cell_prefix": "3415230010010", "reported_from": start.isoformat(), "limit": 2}
    while True:
        page = {**params, **({"cursor": cursor} if cursor else {})}
        r = client.get("/cases", headers=as_user("api-boss"), params=page)
        assert r.status_code == 200, r.text
        seen += [c["id"] for c in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids)), tag  # newest first, each once
    # The inspector's grid G1 holds cells 01-04 and 09-12 of this community; cell 17 is not theirs.
    mine = client.get("/cases", headers=as_user("api-inspector"), params={"reported_from": start.isoformat()}).json()
    assert other not in {c["id"] for c in mine["items"]} and set(ids) <= {c["id"] for c in mine["items"]}
    assert client.get("/cases", headers=as_user("api-boss"), params={"state": ["closed"], "overdue": True,
                                                                    "reported_from": start.isoformat()}).json() == \
        {"items": [], "next_cursor": None}
    bad = client.get("/cases", headers=as_user("api-boss"), params={"cursor": "garbage"})
    assert bad.status_code == 422 and bad.json()["type"].endswith("/bad-cursor")


def test_media_upload_reference_and_download(client: TestClient, as_user: Headers, sql) -> None:
    r = client.post("/media", headers=as_user("api-inspector"), files={"file": ("p.jpg", io.BytesIO(JPEG), "x/y")})
    assert r.status_code == 201, r.text
    media = r.json()
    assert media["content_type"] == "image/jpeg" and media["size_bytes"] == len(JPEG)
    case = client.post("/cases", headers=as_user("api-inspector"), json={
        "category_code": "E0102", "grid_cell_code": "34152300100103", "media_ids": [media["id"]]}).json()
    assert [(e["kind"], e["data"]["media_id"]) for e in case["evidence"]] == [("photo", media["id"])]
    got = client.get(f"/media/{media['id']}", headers=as_user("api-sanitation"))
    assert got.status_code == 200 and got.content == JPEG and got.headers["content-type"] == "image/jpeg"
    assert client.get(f"/media/{media['id']}").status_code == 401
    text = client.post("/media", headers=as_user("api-inspector"), files={"file": ("a.txt", b"hello", "image/jpeg")})
    assert text.status_code == 415
    big = client.post("/media", headers=as_user("api-inspector"),
                      files={"file": ("b.jpg", JPEG + bytes(70 * 1024), "image/jpeg")})
    assert big.status_code == 413
    unknown = client.post("/cases", headers=as_user("api-inspector"), json={
        "category_code": "E0102", "media_ids": ["0" * 64]})
    assert unknown.status_code == 422 and unknown.json()["type"].endswith("/unknown-media")


def test_a_photo_of_a_component_label_names_the_component(client: TestClient, as_user: Headers, sql) -> None:
    photo = label_photo(640, 480, "CG:3415230102000017", 160, noise=False)
    r = client.post("/media", headers=as_user("api-inspector"), files={"file": ("p.jpg", io.BytesIO(photo), "x/y")})
    assert r.status_code == 201, r.text
    assert (r.json()["labels"], r.json()["component_ids"]) == (["CG:3415230102000017"], ["3415230102000017"])
    assert sql("SELECT labels FROM media WHERE id = %s", r.json()["id"]) == [(["CG:3415230102000017"],)]
    # Bytes that only look like a JPEG are still kept (a browser may show them), with no labels.
    odd = client.post("/media", headers=as_user("api-inspector"), files={"file": ("o.jpg", io.BytesIO(JPEG), "x/y")})
    assert odd.status_code == 201 and (odd.json()["labels"], odd.json()["component_ids"]) == ([], [])


def test_device_registry_status_and_command_ack(client: TestClient, as_user: Headers, api_settings: Settings,
                                                db) -> None:
    device_id = f"bin-{uuid.uuid4().hex[:8]}"
    r = client.post("/devices", headers=as_user("api-admin"), json={"id": device_id, "kind": "bin-sensor"})
    assert r.status_code == 201, r.text
    assert len(r.json()["secret"]) > 20
    assert client.post("/devices", headers=as_user("api-admin"),
                       json={"id": device_id, "kind": "bin-sensor"}).status_code == 409
    assert client.post("/devices", headers=as_user("api-operator"),
                       json={"id": "x1", "kind": "bin-sensor"}).status_code == 403
    db.execute("INSERT INTO telemetry (time, device_id, seq, payload) VALUES (now(), %s, 1, %s)",
               (device_id, '{"data": {"fill_pct": 85, "battery_pct": 41}}'))
    db.execute("INSERT INTO alarms (time, alarm_id, device_id, rule, action) VALUES (now(), %s, %s, 'overflow', "
               "'raise')", (f"{device_id}/overflow", device_id))
    status = client.get(f"/devices/{device_id}", headers=as_user("api-operator")).json()
    assert (status["online"], status["battery_pct"], status["open_alarms"]) == (True, 41.0, 1)

    tail = KafkaTail(api_settings.kafka.bootstrap_servers, [topics.COMMANDS])
    r = client.post(f"/devices/{device_id}/commands", headers=as_user("api-operator"),
                    json={"name": "set_interval", "args": {"seconds": 300}, "timeout_s": 30})
    assert r.status_code == 202, r.text
    command_id = r.json()["command_id"]
    try:
        tail.collect(lambda rs: any(v.get("command_id") == command_id for _, _, v in rs))
    finally:
        tail.close()
    (sent,) = [v for _, _, v in tail.records if v.get("command_id") == command_id]
    assert (sent["device_id"], sent["name"], sent["args"], sent["issued_by"]) == \
        (device_id, "set_interval", {"seconds": 300}, "api-operator")
    # The gateway's acks arrive on cg.command-acks; the API's ack reader follows them.
    producer = Producer({"bootstrap.servers": api_settings.kafka.bootstrap_servers})
    for state in ("sent", "acked"):
        producer.produce(topics.COMMAND_ACKS, CommandAckRecord(
            command_id=command_id, device_id=device_id, status=state, ts=datetime.now(UTC), detail=state).encode(),
            device_id.encode())
    producer.flush(10)
    url = f"/devices/{device_id}/commands/{command_id}"
    wait_for(lambda: client.get(url, headers=as_user("api-operator")).json()["status"] == "acked")
    assert client.patch(f"/devices/{device_id}", headers=as_user("api-admin"),
                        json={"enabled": False}).json()["enabled"] is False
    assert client.post(f"/devices/{device_id}/commands", headers=as_user("api-operator"),
                       json={"name": "reboot"}).status_code == 409


def test_scoring_tables_json_and_csv(client: TestClient, as_user: Headers) -> None:
    case_id = _new(client, as_user, "E0102", "34152300100109")
    for who, action, body in (("api-leader", "file", {}), ("api-dispatcher", "dispatch", {}),
                              ("api-sanitation", "sign", {}), ("api-sanitation", "dispose", {"note": "ok"}),
                              ("api-operator", "send-check", {}), ("api-inspector", "check-pass", {}),
                              ("api-leader", "close", {})):
        assert client.post(f"/cases/{case_id}/{action}", headers=as_user(who), json=body).status_code == 200
    r = client.get("/scoring/department", headers=as_user("api-boss"), params={"period": "month"})
    assert r.status_code == 200, r.text
    table = r.json()
    sanitation = next(row for row in table["rows"] if row["subject"] == "sanitation")
    assert sanitation["ratios"]["closing_rate"]["numerator"] >= 1 and table["cases"] >= 1
    assert [row["rank"] for row in table["rows"]] == sorted(row["rank"] for row in table["rows"])
    csv = client.get("/scoring/region", headers=as_user("api-boss"), params={"region_level": "grid", "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    # The test database is shared: other tests' grids (the statistics tests' STAT1 …) may rank above G1 this month.
    assert "G1" in [line.split(",")[1] for line in csv.text.splitlines()[1:]]
    posts = client.get("/scoring/post", headers=as_user("api-boss"), params={"role": "dispatcher"}).json()
    assert {row["subject"] for row in posts["rows"]} == {"api-dispatcher", "api-dispatcher2"}
    assert client.get("/scoring/department", headers=as_user("api-sanitation")).status_code == 403


def test_coverage_rows(client: TestClient, as_user: Headers, org: dict[str, int], db) -> None:
    # A day long past: the real-time tests (simulated handhelds) write coverage rows for today.
    db.execute("INSERT INTO patrol_coverage (day, inspector_user_id, segments_required, segments_met, cells_visited, "
               "plan_met_pct) VALUES ('2020-01-15', %s, 40, 36, 12, 90) ON CONFLICT DO NOTHING",
               (org["api-inspector"],))
    rows = client.get("/coverage", headers=as_user("api-leader"),
                      params={"day_from": "2020-01-15", "day_to": "2020-01-15"}).json()
    assert [(r["username"], r["plan_met_pct"], r["responsibility_grid_id"]) for r in rows] == \
        [("api-inspector", 90.0, "G1")]
    own = client.get("/coverage", headers=as_user("api-inspector"),
                     params={"day_from": "2020-01-15", "day_to": "2020-01-15", "format": "csv"})
    assert own.text.splitlines()[0].startswith("day,inspector_user_id") and len(own.text.splitlines()) == 2


def test_health_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    text = client.get("/metrics").text
    assert 'civicgrid_api_requests_total{method="GET",route="/healthz",status="200"}' in text
