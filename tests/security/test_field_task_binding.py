"""Item 6: a field-task answer moves the case only when it comes from the handheld (and inspector) the task was
sent to; any other handheld naming the case id is evidence at most, with the reason."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

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
