"""Item 12: Open311 publishes only notes written for the public, and looks requests up by index."""

from __future__ import annotations

import psycopg
from fastapi.testclient import TestClient

from api.queries.cases import find_case_id


def test_internal_notes_never_reach_the_public_status_notes(client: TestClient, as_user, org: dict[str, int],
                                                            db: psycopg.Connection) -> None:
    key = client.post("/api-keys", headers=as_user("api-admin"),
                      json={"user_id": org["api-operator"], "name": "hotline"}).json()["api_key"]
    posted = client.post("/open311/v2/requests.json", data={
        "api_key": key, "service_code": "E0102", "lat": "31.4612", "long": "116.9437",
        # a point of its own: an open E0102 request within 50 m would take this caller (docs/open311.md)
        "description": "垃圾堆放", "first_name": "Li", "phone": "13900000000"})
    assert posted.status_code == 201, posted.text
    request_id = posted.json()[0]["service_request_id"]
    (case_id,) = db.execute("SELECT id::text FROM cases WHERE case_no = %s", (request_id,)).fetchone()

    internal = "领导批示：此事涉及拆迁，暂缓处理"
    r = client.post(f"/cases/{case_id}/send-verify", headers=as_user("api-operator"), json={"note": internal})
    assert r.status_code == 200, r.text
    (public,) = client.get(f"/open311/v2/requests/{request_id}.json").json()
    assert public["status_notes"] is None
    assert internal not in str(public)

    r = client.post(f"/cases/{case_id}/confirm", headers=as_user("api-inspector"),
                    json={"note": "现场确认，涉及拆迁", "public_note": "已核实，正在处理"})
    assert r.status_code == 200, r.text
    for ident in (request_id, case_id):  # by case number and by uuid
        (public,) = client.get(f"/open311/v2/requests/{ident}.json").json()
        assert public["status_notes"] == "已核实，正在处理"
    assert client.get("/open311/v2/requests/not-a-request.json").status_code == 404


def test_requests_are_looked_up_by_index_not_by_a_text_cast(db: psycopg.Connection) -> None:
    """Every statement `find_case_id` runs, EXPLAINed: none may scan the cases table (it did, with `id::text`)."""
    seen: list[tuple[str, tuple]] = []
    execute = db.execute

    def recording(query, params=None, **kwargs):
        seen.append((query, params))
        return execute(query, params, **kwargs)

    db.execute = recording
    try:
        for ident in ("00000000-0000-0000-0000-000000000000", "HL-20261206-000001"):
            assert find_case_id(db, ident) is None
    finally:
        del db.execute
    assert seen
    db.execute("SET enable_seqscan = off")  # what the planner can use, whatever the table's size today
    try:
        for query, params in seen:
            plan = "\n".join(row[0] for row in db.execute(f"EXPLAIN {query}", params).fetchall())
            assert "Seq Scan" not in plan, (query, plan)
    finally:
        db.execute("RESET enable_seqscan")


def test_a_nul_byte_in_a_parameter_is_a_bad_request_not_an_internal_error(client: TestClient, as_user) -> None:
    """PostgreSQL text cannot hold NUL: psycopg refuses such a value before sending it. That is the caller's bad
    input (400, in the path's error format), never a 500 (schemathesis found it on the Open311 list)."""
    for path in ("/open311/v2/requests.xml?service_request_id=%00", "/open311/v2/requests/a%00b.json",
                 "/open311/v2/requests.json?service_code=E01%0002"):
        r = client.get(path)
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert "NUL" in r.text
    r = client.get("/open311/v2/requests.xml?service_request_id=%00")
    assert r.headers["content-type"].startswith("text/xml") or r.headers["content-type"].startswith(
        "application/xml"), r.headers["content-type"]
    r = client.get("/cases?cell_prefix=34%00", headers=as_user("api-operator"))
    assert r.status_code in (400, 422), r.text
