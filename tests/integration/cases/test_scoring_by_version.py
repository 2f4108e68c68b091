"""Scoring judges each case by the rules version it was filed under (api/case_facts_cache.py, docs/rules.md): a
case filed in 20 minutes under the shipped 30-minute filing limit stays filed on time after a pack with a 10-minute
limit is loaded, although its facts are computed again after the reload (it was dispatched since); a case filed
under the new pack is judged by the new limit."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import yaml

from api.case_facts_cache import load_facts, refresh_facts
from civicgrid.cases import CaseService
from civicgrid.cases.pack import load_pack, shipped_pack
from civicgrid.cases.rulebook import RuleBook, store_pack
from civicgrid.domain.case_facts import CaseFacts
from civicgrid.domain.case_state import Action, Role
from tests.integration.cases.test_case_service import FixedPlace, _problem

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)  # Thursday 09:00 in the city (UTC+8)


@pytest.fixture
def shipped_again(db: psycopg.Connection) -> Iterator[None]:
    """The shipped defaults are current before and after the test (the database is shared with other tests)."""
    store_pack(db, shipped_pack(), "test")
    yield
    store_pack(db, shipped_pack(), "test")


def _facts(book: RuleBook, db: psycopg.Connection, case_id: str) -> CaseFacts:
    refresh_facts(book, db, T0 - timedelta(days=1), T0 + timedelta(days=1))
    return next(f for f in load_facts(db, T0 - timedelta(days=1), T0 + timedelta(days=1)) if f.case_id == case_id)


@pytest.mark.usefixtures("shipped_again")
def test_a_reload_with_shorter_limits_leaves_an_earlier_cases_verdict_alone(
        db: psycopg.Connection, cell: str, department: str, tmp_path: Path) -> None:
    book = RuleBook(loaded_by="test")
    service = CaseService(book)

    def filed_in_20_minutes(reported: datetime, category: str) -> str:
        case_id = service.record_problem(db, _problem(uuid.uuid4().hex, category, at=reported), FixedPlace(cell),
                                         timedelta(hours=24)).case_id
        service.act(db, Role.SHIFT_LEADER, "sl", case_id, Action.FILE, {}, (), reported + timedelta(minutes=20))
        return case_id

    old = filed_in_20_minutes(T0, "E0102")
    assert _facts(book, db, old).filed_on_time is True

    limits = copy.deepcopy(shipped_pack().content["time_limits"])
    limits["steps"]["file"] = {"amount": 10, "unit": "minutes"}
    (tmp_path / "city").mkdir()
    (tmp_path / "city" / "time_limits.yaml").write_text(yaml.safe_dump(limits), encoding="utf-8")
    version, created = store_pack(db, load_pack(tmp_path / "city"), "test")  # the reload
    assert created

    # The old case moves on after the reload, so its facts are computed again: still by its own 30 minutes.
    service.act(db, Role.DISPATCHER, "d", old, Action.DISPATCH, {"department": department}, (),
                T0 + timedelta(minutes=25))
    facts = _facts(book, db, old)
    assert facts.filed_on_time is True and facts.dispatchers == [("d", True)]

    new = filed_in_20_minutes(T0 + timedelta(hours=1), "E0104")  # under the new pack: 20 > 10 minutes
    assert _facts(book, db, new).filed_on_time is False
    rows = db.execute("SELECT id::text, rules_version FROM cases WHERE id = ANY(%s::uuid[])",
                      ([old, new],)).fetchall()
    assert dict(rows)[new] == version and dict(rows)[old] < version
