"""/cameras: list with health, one camera with ROIs, latest snapshot, ROI edits validated, detection history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import psycopg
from fastapi.testclient import TestClient

from civicgrid.store import cameras as store

ROI = {"name": "店外经营区", "event_code": "E0504", "polygon": [[100, 400], [500, 400], [500, 560], [100, 560]],
       "dwell_s": 300}


def _camera(db: psycopg.Connection, provision) -> str:
    device_id, _ = provision("camera")
    store.upsert_camera(db, device_id, name="人民路口", onvif_url="http://127.0.0.1:18299", username="admin",
                        password_ref="secrets:" + device_id, lon=116.95, lat=31.47, image_width=1280,
                        image_height=720)
    return device_id


def test_list_detail_and_health(client: TestClient, as_user, db: psycopg.Connection, provision) -> None:
    device_id = _camera(db, provision)
    store.replace_rois(db, device_id, [{**ROI, "id": "stall"}])
    jpeg = cv2.imencode(".jpg", np.full((72, 128, 3), 90, np.uint8))[1].tobytes()
    now = datetime.now(UTC)
    store.record_status(db, device_id, reachable=False, last_snapshot_at=now, last_event_at=None,
                        last_error="unauthorized: connect: credentials refused", detail={}, snapshot=jpeg,
                        snapshot_at=now)

    r = client.get("/cameras", headers=as_user("api-dispatcher"))
    assert r.status_code == 200
    item = next(c for c in r.json() if c["device_id"] == device_id)
    assert item["onvif_url"] == "http://127.0.0.1:18299" and item["roi_count"] == 1
    assert item["status"]["reachable"] is False
    assert item["status"]["last_error"].startswith("unauthorized")
    assert "password" not in r.text and "secrets:" not in r.text  # never credentials, not even their reference

    detail = client.get(f"/cameras/{device_id}", headers=as_user("api-operator")).json()
    assert [roi["id"] for roi in detail["rois"]] == ["stall"] and detail["image_width"] == 1280

    snap = client.get(f"/cameras/{device_id}/snapshot", headers=as_user("api-operator"))
    assert snap.status_code == 200 and snap.headers["content-type"] == "image/jpeg" and snap.content == jpeg

    assert client.get("/cameras", headers=as_user("api-inspector")).status_code == 403
    assert client.get("/cameras/no-such-cam", headers=as_user("api-operator")).status_code == 404


def test_snapshot_404_when_none_yet(client: TestClient, as_user, db: psycopg.Connection, provision) -> None:
    device_id = _camera(db, provision)
    r = client.get(f"/cameras/{device_id}/snapshot", headers=as_user("api-operator"))
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_rois_are_replaced_and_validated(client: TestClient, as_user, db: psycopg.Connection, provision) -> None:
    device_id = _camera(db, provision)
    url = f"/cameras/{device_id}/rois"
    ok = client.put(url, json=[ROI, {**ROI, "id": "parking", "name": "禁停区", "event_code": "E0505"}],
                    headers=as_user("api-operator"))
    assert ok.status_code == 200, ok.text
    saved = ok.json()
    assert saved[0]["id"].startswith("roi-") and saved[1]["id"] == "parking"
    assert client.get(url, headers=as_user("api-boss")).json() == saved

    bad = {
        "two points": {**ROI, "polygon": [[1, 1], [2, 2]]},
        "outside the image": {**ROI, "polygon": [[1, 1], [1300, 1], [1, 700]]},
        "unknown code": {**ROI, "event_code": "E0999"},
        "major code": {**ROI, "event_code": "E0500"},
        "negative dwell": {**ROI, "dwell_s": -1},
    }
    for why, roi in bad.items():
        r = client.put(url, json=[roi], headers=as_user("api-operator"))
        assert r.status_code == 422, why
    assert client.get(url, headers=as_user("api-operator")).json() == saved  # unchanged
    assert client.put(url, json=[ROI], headers=as_user("api-dispatcher")).status_code == 403


def test_detection_history_newest_first_with_the_case(client: TestClient, as_user, db: psycopg.Connection,
                                                      provision) -> None:
    device_id = _camera(db, provision)
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    rows = [(t0, device_id, 1, "motion", False, None, None, None, {}),
            (t0 + timedelta(minutes=1), device_id, 2, "occupancy", False, "stall", "E0504", "ab" * 32, {}),
            (t0 + timedelta(minutes=2), device_id, 3, "tamper_covered", False, None, None, "cd" * 32, {})]
    assert store.record_detections(db, rows) == 3
    assert store.record_detections(db, rows) == 0  # idempotent
    case_id = str(uuid.uuid4())
    db.execute("INSERT INTO cases (id, source, state, category_code, reported_at) "
               "VALUES (%s, 'camera', 'reported', 'E0504', now())", (case_id,))
    db.execute("INSERT INTO case_evidence (case_id, source_record_id, kind, at, device_id) "
               "VALUES (%s, %s, 'camera_event', now(), %s)", (case_id, f"event:{device_id}:2", device_id))

    r = client.get(f"/cameras/{device_id}/detections?limit=2", headers=as_user("api-leader"))
    assert r.status_code == 200
    got = r.json()
    assert [(d["kind"], d["case_id"]) for d in got] == [("tamper_covered", None), ("occupancy", case_id)]
    assert got[1]["snapshot_id"] == "ab" * 32 and got[1]["id"] == f"{device_id}:2"
