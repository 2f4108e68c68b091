"""Item 6: a field-task answer moves the case only when it comes from the handheld (and inspector) the task was
sent to; any other handheld naming the case id is evidence at most, with the reason. And the case's photos a
task brings are read by the handheld it was sent to, and by no other."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import cv2
import numpy as np
import psycopg
from fastapi.testclient import TestClient

from api.users import create_user
from civicgrid.broker import hash_secret
from civicgrid.cases import CaseService
from civicgrid.cases.field_tasks import TaskAnswer
from civicgrid.store.devices import insert_device
from tests.support.api_fixtures import CELLS


def _answer(case_id: str, device_id: str, inspector_id: int | None) -> TaskAnswer:
    report_id = uuid.uuid4().hex[:8]
    data = {"kind": "verification", "task_id": case_id, "result": "confirmed", "report_id": report_id,
            "description": "现场属实"}
    return TaskAnswer(case_id, "verification", "confirmed", f"report:{device_id}:{report_id}", datetime.now(UTC),
                      device_id, inspector_id, data)


def test_only_the_tasked_handheld_moves_the_case(client: TestClient, as_user, org: dict[str, int],
                                                 db: psycopg.Connection) -> None:
    tag = uuid.uuid4().hex[:6]
    tasked, stranger = f"hh-task-{tag}", f"hh-other-{tag}"
    other_inspector, _ = create_user(db, f"insp-other-{tag}", "inspector")
    insert_device(db, tasked, "handheld", "handheld", hash_secret("x" * 32), inspector_user_id=org["api-inspector"])
    insert_device(db, stranger, "handheld", "handheld", hash_secret("y" * 32), inspector_user_id=other_inspector.id)
    r = client.post("/cases/calls", headers=as_user("api-operator"),
                    json={"category_code": "E0102", "description": "垃圾", "grid_cell_code": CELLS[1][0]})
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]
    r = client.post(f"/cases/{case_id}/send-verify", headers=as_user("api-operator"),
                    json={"inspector_user_id": org["api-inspector"]})
    assert r.status_code == 200, r.text
    assert r.json()["timeline"][-1]["data"]["task"]["device_id"] == tasked

    for device, inspector, why in ((stranger, other_inspector.id, "the task was sent to another handheld"),
                                   (tasked, other_inspector.id, "the task was sent to another inspector")):
        answer = _answer(case_id, device, inspector)
        assert CaseService().apply_answer(db, answer) == "evidence only"
        (data,) = db.execute("SELECT data FROM case_evidence WHERE source_record_id = %s",
                             (answer.source_record_id,)).fetchone()
        assert data["not_applied"] == why
    assert db.execute("SELECT state FROM cases WHERE id = %s", (case_id,)).fetchone() == ("verifying",)

    # The tasked handheld's answer moves the case; a photo it names that another inspector uploaded is not
    # taken as its evidence (as for a report: tests/security/test_photo_ids.py).
    foreign = (uuid.uuid4().hex * 2)[:64]
    db.execute("INSERT INTO media (id, content_type, size_bytes, uploaded_by) VALUES (%s, 'image/jpeg', 10, %s)",
               (foreign, other_inspector.id))
    answer = _answer(case_id, tasked, org["api-inspector"])
    answer.data["photo_ids"] = [foreign]
    assert CaseService().apply_answer(db, answer) == "applied"
    assert db.execute("SELECT state FROM cases WHERE id = %s", (case_id,)).fetchone() != ("verifying",)
    (data,) = db.execute("SELECT data FROM case_evidence WHERE source_record_id = %s",
                         (answer.source_record_id,)).fetchone()
    assert (data["photo_ids"], data["photo_ids_refused"]["ids"]) == ([], [foreign])
    assert db.execute("SELECT count(*) FROM case_evidence WHERE source_record_id LIKE %s",
                      (f"photo:{answer.source_record_id}:%",)).fetchone() == (0,)


def _jpeg(text: str) -> bytes:
    image = np.full((60, 80, 3), (40, 90, 160), np.uint8)
    cv2.putText(image, text, (4, 34), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
    return cv2.imencode(".jpg", image)[1].tobytes()


def test_a_task_brings_the_case_place_and_photos_which_only_the_tasked_handheld_may_read(
        client: TestClient, as_user, db: psycopg.Connection) -> None:
    tag = uuid.uuid4().hex[:6]
    inspector, _ = create_user(db, f"insp-photos-{tag}", "inspector")
    stranger, _ = create_user(db, f"insp-stranger-{tag}", "inspector")
    tasked, second, strangers = f"hh-photos-{tag}", f"hh-second-{tag}", f"hh-stranger-{tag}"
    insert_device(db, tasked, "handheld", "handheld", hash_secret("t" * 32), inspector_user_id=inspector.id)
    insert_device(db, strangers, "handheld", "handheld", hash_secret("s" * 32), inspector_user_id=stranger.id)
    operator = as_user("api-operator")
    photos = []
    for text in ("report", "verify"):
        r = client.post("/media", headers=operator, files={"file": (f"{text}.jpg", _jpeg(f"{text} {tag}"),
                                                                     "image/jpeg")})
        assert r.status_code == 201, r.text
        photos.append(r.json()["id"])
    reported, attached = photos
    cell, polygon = CELLS[1]
    lon, lat = polygon.centroid.x, polygon.centroid.y
    # A door plate 30 m from the case: the case has no address of its own, the task names the nearest.
    plate = f"城关镇测试路 {tag} 号"
    db.execute("INSERT INTO addresses (kind, address, norm, geom, lon, lat) VALUES ('door_plate', %s, %s, "
               "ST_SetSRID(ST_MakePoint(%s, %s), 4326), %s, %s)",
               (plate, plate, lon, lat + 0.00027, lon, lat + 0.00027))
    try:
        r = client.post("/cases", headers=operator, json={"category_code": "E0102", "description": "垃圾堆放",
                                                          "grid_cell_code": cell, "lon": lon, "lat": lat,
                                                          "media_ids": [reported]})
        assert r.status_code == 201, r.text
        case_id = r.json()["id"]
        # The operator's own photo sent with the task goes too, after the report's.
        r = client.post(f"/cases/{case_id}/send-verify", headers=operator,
                        json={"inspector_user_id": inspector.id, "media_ids": [attached]})
        assert r.status_code == 200, r.text
        (args,) = db.execute("SELECT args FROM device_commands WHERE device_id = %s", (tasked,)).fetchone()
        assert (args["grid_cell_code"], args["lon"], args["lat"], args["address"], args["photo_ids"]) == \
            (cell, lon, lat, plate, [reported, attached])
    finally:
        db.execute("DELETE FROM addresses WHERE address = %s", (plate,))

    def get(media_id: str, device: str | None, secret: str | None, **headers: str):
        auth = (device, secret) if device and secret else None
        return client.get(f"/handhelds/media/{media_id}", auth=auth, headers=headers)

    got = get(reported, tasked, "t" * 32)
    assert got.status_code == 200 and got.content == _jpeg(f"report {tag}"), got.text
    assert got.headers["content-type"] == "image/jpeg"
    assert get(attached, tasked, "t" * 32).status_code == 200
    # Another handheld (another inspector's, or a second phone of the same inspector) sees nothing of it, nor
    # does the tasked handheld see a medium that is not a photo of a task sent to it; a wrong secret, or a
    # person's login (even the inspector's), is not a handheld.
    insert_device(db, second, "handheld", "handheld", hash_secret("u" * 32), inspector_user_id=inspector.id)
    assert get(reported, strangers, "s" * 32).status_code == 404
    assert get(reported, second, "u" * 32).status_code == 404
    r = client.post("/media", headers=operator, files={"file": ("other.jpg", _jpeg(f"other {tag}"), "image/jpeg")})
    assert get(r.json()["id"], tasked, "t" * 32).status_code == 404
    assert get(reported, tasked, "wrong" * 7).status_code == 401
    assert get(reported, None, None, **operator).status_code == 401


def test_handheld_me_names_only_a_device_whose_credentials_it_checked(client: TestClient, org: dict[str, int],
                                                                     db: psycopg.Connection) -> None:
    """The app's pairing check answers with the device id of verified credentials. An inspector's API key beside a
    Basic header naming any device (its secret wrong) was answered with that device id (the Basic user name was
    echoed unchecked)."""
    from api.api_keys import new_api_key

    tag = uuid.uuid4().hex[:6]
    phone, other = f"hh-me-{tag}", f"hh-me-other-{tag}"
    insert_device(db, phone, "handheld", "handheld", hash_secret("p" * 32), inspector_user_id=org["api-inspector"])
    insert_device(db, other, "handheld", "handheld", hash_secret("q" * 32), inspector_user_id=org["api-inspector"])
    mine = client.get("/handhelds/me", auth=(phone, "p" * 32))
    assert mine.status_code == 200 and mine.json()["device_id"] == phone, mine.text
    _, key = new_api_key(db, org["api-inspector"], f"me-{tag}", ("api",))
    for auth in ((other, "wrong"), (f"invented-{tag}", "wrong")):
        r = client.get("/handhelds/me", auth=auth, headers={"X-Api-Key": key})
        assert r.status_code == 401, r.text
    assert client.get("/handhelds/me", headers={"X-Api-Key": key}).status_code == 401
