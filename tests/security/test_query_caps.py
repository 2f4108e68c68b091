"""Also checked in the security issue: what a client may ask for is capped: date ranges, command arguments,
regions per camera, and the rows a case detail carries."""

from __future__ import annotations

import uuid

import psycopg
from fastapi.testclient import TestClient

from tests.support.api_fixtures import CELLS


def test_coverage_ranges_are_capped(client: TestClient, as_user) -> None:
    leader = as_user("api-leader")
    decade = client.get("/coverage", headers=leader, params={"day_from": "2016-01-01", "day_to": "2026-01-01"})
    assert decade.status_code == 422 and decade.json()["type"].endswith("/bad-range"), decade.text
    backwards = client.get("/coverage", headers=leader, params={"day_from": "2026-02-01", "day_to": "2026-01-01"})
    assert backwards.status_code == 422
    assert client.get("/coverage", headers=leader, params={"day_from": "2026-01-01",
                                                           "day_to": "2026-12-31"}).status_code == 200


def test_track_playback_ranges_are_capped(client: TestClient, as_user) -> None:
    r = client.get("/patrol/tracks/some-device", headers=as_user("api-leader"),
                   params={"start": "2020-01-01T00:00:00+08:00", "end": "2026-01-01T00:00:00+08:00"})
    assert r.status_code == 422 and r.json()["type"].endswith("/bad-range"), r.text


def test_command_args_and_roi_lists_are_capped(client: TestClient, as_user) -> None:
    device_id = f"bin-cap-{uuid.uuid4().hex[:6]}"
    assert client.post("/devices", headers=as_user("api-admin"),
                       json={"id": device_id, "kind": "bin-sensor"}).status_code == 201
    many = client.post(f"/devices/{device_id}/commands", headers=as_user("api-operator"),
                       json={"name": "configure", "args": {f"k{n}": n for n in range(40)}})
    assert many.status_code == 422, many.text
    big = client.post(f"/devices/{device_id}/commands", headers=as_user("api-operator"),
                      json={"name": "configure", "args": {"blob": "x" * 5000}})
    assert big.status_code == 422 and "4096 bytes" in big.text, big.text
    roi = {"name": "摊点", "event_code": "E0502", "polygon": [[0, 0], [10, 0], [10, 10]], "dwell_s": 60}
    rois = client.put("/cameras/any-camera/rois", headers=as_user("api-admin"), json=[roi] * 33)
    assert rois.status_code == 422, rois.text


def test_a_case_detail_carries_the_newest_500_evidence_rows_and_the_total(client: TestClient, as_user,
                                                                          db: psycopg.Connection) -> None:
    r = client.post("/cases", headers=as_user("api-inspector"), json={"category_code": "E0102",
                                                                      "grid_cell_code": CELLS[2][0]})
    case_id = r.json()["id"]
    db.execute("INSERT INTO case_evidence (case_id, source_record_id, kind, at, data) "
               "SELECT %s, 'flap:' || %s || ':' || n, 'reading', now() - (n || ' seconds')::interval, '{}' "
               "FROM generate_series(1, 600) n", (case_id, case_id))
    detail = client.get(f"/cases/{case_id}", headers=as_user("api-operator")).json()
    assert len(detail["evidence"]) == 500 and detail["evidence_total"] >= 600
    assert detail["evidence"][-1]["at"] >= detail["evidence"][0]["at"]  # oldest first, the newest kept
