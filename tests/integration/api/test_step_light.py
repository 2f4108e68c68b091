"""The board's light follows the running step, not only disposal (api/routes/cases.py `step_light`): once the
deadline watch has read a case, the list and the detail show the most urgent running clock — a report's 10-minute
accept limit turns yellow past 8 minutes and red past 10 — and say which step it is; a case the watch has not read
at its current version shows disposal's light alone, as before."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import psycopg
import pytest
from fastapi.testclient import TestClient

from civicgrid.cases import CaseService
from civicgrid.cases.rulebook import RuleBook
from civicgrid.domain.working_calendar import CHINA_TZ
from tests.integration.api.test_case_workflow import _Fixed, report, step

pytestmark = pytest.mark.integration

Headers = Callable[[str], dict[str, str]]


def test_the_light_is_the_running_steps_once_the_watch_has_read_the_case(
        client: TestClient, as_user: Headers, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = {"now": datetime(2026, 6, 9, 9, 0, tzinfo=CHINA_TZ)}  # a Tuesday
    monkeypatch.setattr(client.app.state.ctx, "clock", _Fixed(clock))
    case_id = report(client, as_user, category="E0104")["id"]

    def lights() -> tuple[tuple[str | None, str | None], tuple[str | None, str | None]]:
        day = {"reported_from": "2026-06-09T00:00:00+08:00", "reported_to": "2026-06-10T00:00:00+08:00",
               "limit": 500}
        items = client.get("/cases", headers=as_user("api-boss"), params=day).json()["items"]
        (listed,) = [(c["light"], c["light_step"]) for c in items if c["id"] == case_id]
        detail = client.get(f"/cases/{case_id}", headers=as_user("api-boss")).json()
        return listed, (detail["light"], detail["light_step"])

    assert lights() == ((None, None), (None, None))  # not read by the watch yet, not dispatched: no light
    CaseService(RuleBook(loaded_by="test")).watch_deadlines(db, clock["now"])
    for minute, light in ((1, "green"), (8, "green"), (9, "yellow"), (10, "yellow"), (11, "red")):
        clock["now"] = datetime(2026, 6, 9, 9, minute, tzinfo=CHINA_TZ)
        assert lights() == ((light, "accept"),) * 2, minute

    step(client, as_user, case_id, "api-leader", "file", {"disposal_class": "B"})  # the case moved on
    assert lights() == ((None, None),) * 2  # not read again yet: disposal's light, none before dispatch
    CaseService(RuleBook(loaded_by="test")).watch_deadlines(db, clock["now"])
    assert lights() == (("green", "dispatch"),) * 2  # 30 minutes from the filing at 09:11
    clock["now"] = datetime(2026, 6, 9, 9, 41, 30, tzinfo=CHINA_TZ)
    assert lights() == (("red", "dispatch"),) * 2
