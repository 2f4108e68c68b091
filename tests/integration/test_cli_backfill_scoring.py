"""`civicgrid db backfill-scoring`: a database from before migration 0023 gets the scoring facts of its cases (the
case service keeps every later case's facts itself), and a second run finds nothing left to fill."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from civicgrid.cases import CaseService
from civicgrid.cases.intake import NewCase
from civicgrid.cases.rulebook import RuleBook
from civicgrid.domain.case_state import Role, Source
from civicgrid.settings import Settings
from tests.integration.cases.test_scoring_maintained import _town
from tests.integration.test_cli_devices import civicgrid

pytestmark = pytest.mark.integration


def test_backfill_scoring_fills_the_facts_a_case_lacks_and_then_has_nothing_to_do(settings: Settings,
                                                                                  db: psycopg.Connection) -> None:
    cells, _, _ = _town(db)
    service = CaseService(RuleBook(loaded_by="test"))
    case_id, _ = service.report(db, Role.INSPECTOR, "insp-a", NewCase("E0102", "test", Source.INSPECTOR,
                                                                      grid_cell_code=cells[0]),
                                datetime(2031, 5, 6, 2, 0, tzinfo=UTC), lambda lon, lat: cells[0])
    db.commit()
    assert db.execute("SELECT count(*) FROM case_facts WHERE case_id = %s", (case_id,)).fetchone() == (1,)
    db.execute("DELETE FROM case_facts WHERE case_id = %s", (case_id,))  # as a case written before 0023
    db.commit()

    done = civicgrid(settings, "db", "backfill-scoring")
    assert done.returncode == 0, done.stderr
    assert "scoring facts filled for" in done.stdout + done.stderr, done.stdout + done.stderr
    assert db.execute("SELECT count(*) FROM case_facts WHERE case_id = %s", (case_id,)).fetchone() == (1,), (
        done.stdout + done.stderr)

    again = civicgrid(settings, "db", "backfill-scoring")
    assert again.returncode == 0, again.stderr
    assert "filled for 0 case(s)" in again.stdout + again.stderr
