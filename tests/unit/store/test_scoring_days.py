"""The daily rollups' differences (civicgrid/store/scoring_days.py): a case counts on its local day (UTC+8), moves
between rows when its facts change, and facts that did not change move nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from civicgrid.store.scoring_days import contributions, deltas


def _facts(**changes: Any) -> dict[str, Any]:
    facts = {"case_id": "c1", "reported_at": datetime(2026, 11, 30, 16, 30, tzinfo=UTC), "rules_version": None,
             "source": "hotline", "cell": "34152300100109", "verified": True, "filed": True, "cancelled": False,
             "dispatchers": ["d1"], "department": "sanitation", "closed": False, "disposed_on_time": None,
             "reworks": 0, "disposals": 0, "closed_by_deadline": False}
    return {**facts, **changes}


def test_a_case_counts_on_its_local_day_and_its_version_defaults_to_1() -> None:
    got = contributions(_facts())
    day = date(2026, 12, 1)  # 16:30 UTC on the 30th is 00:30 in the city
    assert got == {("version", day, 1): (1,), ("department", day, "sanitation"): (1, 0, 0, 0, 0),
                   ("cell", day, "34152300100109"): (1, 1, 1, 1, 0, 0)}


def test_a_redispatch_moves_the_case_from_one_department_to_the_other_and_nothing_else() -> None:
    before, after = _facts(), _facts(department="lighting", dispatchers=["d1", "d1"])
    day = date(2026, 12, 1)
    assert deltas([before], [after]) == {("department", day, "sanitation"): (-1, 0, 0, 0, 0),
                                         ("department", day, "lighting"): (1, 0, 0, 0, 0)}
    assert deltas([before], [before]) == {}


def test_closing_moves_the_counters_of_its_rows() -> None:
    closed = _facts(closed=True, disposed_on_time=True, disposals=1, closed_by_deadline=True)
    day = date(2026, 12, 1)
    assert deltas([_facts()], [closed]) == {("department", day, "sanitation"): (0, 1, 1, 0, 1),
                                            ("cell", day, "34152300100109"): (0, 0, 0, 0, 1, 1)}
    assert deltas([], [_facts(cell=None, dispatchers=[])]) == {("version", day, 1): (1,)}
