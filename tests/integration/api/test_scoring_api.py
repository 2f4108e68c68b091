"""/scoring as people read it: every rate with its numerator and denominator, a rate with nothing due as null
(not a perfect 1.000 rework rate), the composite's weights and the rule-pack versions it used — and all of it
following a pack loaded through /admin/rules (docs/rules.md, docs/domain.md §5)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from civicgrid.cases.pack import shipped_pack

pytestmark = pytest.mark.integration

Headers = Callable[[str], dict[str, str]]


def _closed_case(client: TestClient, as_user: Headers) -> None:
    r = client.post("/cases", headers=as_user("api-inspector"),
                    json={"category_code": "E0102", "grid_cell_code": "34152300100109"})
    assert r.status_code == 201, r.text
    for who, action, body in (("api-leader", "file", {}), ("api-dispatcher", "dispatch", {}),
                              ("api-sanitation", "sign", {}), ("api-sanitation", "dispose", {"note": "ok"}),
                              ("api-operator", "send-check", {}), ("api-inspector", "check-pass", {}),
                              ("api-leader", "close", {})):
        assert client.post(f"/cases/{r.json()['id']}/{action}", headers=as_user(who), json=body).status_code == 200


def test_rates_show_numerator_and_denominator_and_nothing_due_is_null(client: TestClient, as_user: Headers) -> None:
    admin = as_user("api-admin")
    assert client.post("/admin/rules", headers=admin, json={}).status_code in (200, 201)  # the shipped tables
    idle = f"idle-{uuid.uuid4().hex[:6]}"
    assert client.put(f"/departments/{idle}", headers=admin, json={"id": idle, "name": "空闲部门"}).status_code == 200
    _closed_case(client, as_user)
    version = client.get("/admin/rules", headers=admin).json()["version"]

    table = client.get("/scoring/department", headers=as_user("api-boss")).json()
    shipped = shipped_pack().content["scoring"]
    assert table["composite"] == "department" and table["weights"] == shipped["composites"]["department"]
    assert table["empty_rate"] == 1.0 and table["rules_version"] == version
    assert version in table["case_rules_versions"]

    sanitation = next(row for row in table["rows"] if row["subject"] == "sanitation")
    closing = sanitation["ratios"]["closing_rate"]
    assert closing["denominator"] >= closing["numerator"] >= 1
    assert sanitation["indicators"]["closing_rate"] == pytest.approx(closing["numerator"] / closing["denominator"])
    rework = sanitation["ratios"]["rework_rate"]
    assert sanitation["ratios"]["not_rework_rate"] == {"numerator": rework["denominator"] - rework["numerator"],
                                                       "denominator": rework["denominator"]}
    assert set(sanitation["counted"]) == set(sanitation["weights"]) == set(table["weights"])

    # Nothing dispatched to it: every rate 0/0, shown as null (the console's "—"), counted as empty_rate 1.0.
    nothing = next(row for row in table["rows"] if row["subject"] == idle)
    assert nothing["ratios"]["rework_rate"] == {"numerator": 0, "denominator": 0}
    assert nothing["indicators"]["rework_rate"] is None and nothing["indicators"]["closing_rate"] is None
    assert nothing["counted"] == {"case_count_score": 1.0, "closing_rate": 1.0, "on_time_disposal_rate": 1.0,
                                  "not_rework_rate": 1.0}
    assert (nothing["score"], nothing["grade"]) == (100.0, "A")

    lines = list(csv.reader(io.StringIO(client.get("/scoring/department", headers=as_user("api-boss"),
                                                   params={"format": "csv"}).text)))
    header, idle_line = lines[0], next(line for line in lines if line[1] == idle)
    assert idle_line[header.index("rework_rate")] == ""  # nothing due: empty, not 1.0
    assert (idle_line[header.index("rework_rate_numerator")], idle_line[header.index("rework_rate_denominator")]) \
        == ("0", "0")


def test_the_table_follows_the_pack_and_says_which_version_scored_it(client: TestClient, as_user: Headers) -> None:
    admin = as_user("api-admin")
    assert client.post("/admin/rules", headers=admin, json={}).status_code in (200, 201)
    idle = f"idle-{uuid.uuid4().hex[:6]}"
    assert client.put(f"/departments/{idle}", headers=admin, json={"id": idle, "name": "空闲部门"}).status_code == 200
    _closed_case(client, as_user)
    before = client.get("/admin/rules", headers=admin).json()["version"]
    scoring = dict(shipped_pack().content["scoring"])
    weights = {"case_count_score": 0.0, "closing_rate": 0.5, "on_time_disposal_rate": 0.25, "not_rework_rate": 0.25}
    scoring.update(empty_rate="exclude", composites={**scoring["composites"], "department": weights})
    try:
        loaded = client.post("/admin/rules", headers=admin, json={"scoring": scoring})
        assert loaded.status_code == 201, loaded.text
        table = client.get("/scoring/department", headers=as_user("api-boss")).json()
        assert table["rules_version"] == loaded.json()["version"] != before
        assert table["weights"] == weights and table["empty_rate"] == "exclude"
        assert before in table["case_rules_versions"]  # the case above was filed under the version before
        # Every weighted rate of the idle department had nothing due and is excluded; the count score weighs 0.
        nothing = next(row for row in table["rows"] if row["subject"] == idle)
        assert (nothing["score"], nothing["grade"], nothing["counted"]) == (None, None, {})
        assert table["rows"][-1]["score"] is None  # nothing to score ranks last
        sanitation = next(row for row in table["rows"] if row["subject"] == "sanitation")
        assert sanitation["weights"] == weights or sum(sanitation["weights"].values()) == pytest.approx(1.0)
    finally:
        assert client.post("/admin/rules", headers=admin, json={}).status_code == 201
