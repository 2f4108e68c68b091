"""CJ/T 292 evaluation tables over a period's per-case facts, formulas from the domain, weights from the pack.

The tables the API serves are the `*_sql` functions: grouped reads of the facts the case service keeps with
each event (civicgrid/store/case_facts.py), a few rows per subject back, no replay. The list functions
(`department_table`, `region_table`, `post_table`) count the replayed facts of the reference
(api/case_facts_cache.py) with the domain's own functions; the test holds the two equal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time

import psycopg

from civicgrid.domain import scoring
from civicgrid.domain.case_facts import CaseFacts
from civicgrid.domain.working_calendar import CHINA_TZ
from civicgrid.store import scoring_days

REGION_DIGITS = {"county": 6, "street": 9, "community": 12}


def _group(facts: Iterable[CaseFacts], key) -> dict[str, list[CaseFacts]]:
    out: dict[str, list[CaseFacts]] = defaultdict(list)
    for f in facts:
        k = key(f)
        if k:
            out[k].append(f)
    return out


def department_table(facts: list[CaseFacts], departments: list[str],
                     weights: scoring.Scoring | None = None) -> list[scoring.Evaluation]:
    groups = _group((f for f in facts if f.dispatched), lambda f: f.department)
    return [scoring.evaluate_department(groups.get(d, []), d, weights)
            for d in sorted(set(departments) | set(groups))]


def region_table(facts: list[CaseFacts], level: str, grids: dict[str, set[str]],
                 weights: scoring.Scoring | None = None) -> list[scoring.Evaluation]:
    if level == "grid":
        by_grid = {cell: grid for grid, cells in grids.items() for cell in cells}
        groups = _group(facts, lambda f: by_grid.get(f.cell or ""))
        return [scoring.evaluate_region(groups.get(g, []), g, cells=grids[g], scoring=weights) for g in sorted(grids)]
    digits = REGION_DIGITS[level]
    groups = _group(facts, lambda f: f.cell[:digits] if f.cell and len(f.cell) >= digits else None)
    return [scoring.evaluate_region(groups[p], p, scoring=weights) for p in sorted(groups)]


def post_table(facts: list[CaseFacts], role: str, actors: list[str], grids_of: dict[str, set[str]],
               weights: scoring.Scoring | None = None) -> list[scoring.Evaluation]:
    return [scoring.evaluate_post(facts, role, a, peers=actors, cells=grids_of.get(a, set()), scoring=weights)
            for a in sorted(actors)]


def case_rules_versions(conn: psycopg.Connection, start: datetime, end: datetime) -> list[int]:
    """The rule-pack versions the period's cases were filed under (docs/rules.md; NULL: before versions, 1): the
    reference's read of `cases`, which `period_summary` answers from the maintained facts."""
    rows = conn.execute("SELECT DISTINCT COALESCE(rules_version, 1) FROM cases "
                        "WHERE reported_at >= %s AND reported_at < %s ORDER BY 1", (start, end)).fetchall()
    return [int(r[0]) for r in rows]


def grids(conn: psycopg.Connection) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for grid, cell in conn.execute("SELECT responsibility_grid_id, code FROM grid_cells "
                                   "WHERE responsibility_grid_id IS NOT NULL").fetchall():
        out[grid].add(cell)
    return dict(out)


# --- the same tables as grouped reads of the maintained facts (civicgrid/store/case_facts.py) ------------------
# Each indicator is (name, source, subject, numerator, denominator, condition): one GROUP BY over the period's
# rows of `case_facts`, written to count exactly what its function in civicgrid/domain/scoring.py counts (the
# test tests/integration/cases/test_scoring_maintained.py holds the two equal). `f` is the facts row; the step lists
# are unnested as `s(who, ok, n)`, n counting from 1.
FACTS = "case_facts f"
DISPATCHES = "case_facts f, unnest(f.dispatchers, f.dispatched_on_time) WITH ORDINALITY AS s(who, ok, n)"
CHECKS = "case_facts f, unnest(f.checkers, f.checked_on_time) WITH ORDINALITY AS s(who, ok, n)"
Indicator = tuple[str, str, str, str, str, str]
ALL = "count(*)"
POST_INDICATORS: dict[str, list[Indicator]] = {
    "inspector": [
        ("valid_report_rate", FACTS, "f.reporter", "count(*) FILTER (WHERE (f.filed AND NOT f.cancelled) "
         "OR f.self_handled)", ALL, "f.reporter_role = 'inspector'"),
        ("on_time_verify_rate", FACTS, "f.verifier", "count(*) FILTER (WHERE f.verified_on_time)", ALL, "true"),
        ("on_time_check_rate", CHECKS, "s.who", "count(*) FILTER (WHERE s.ok)", ALL, "true"),
    ],
    "operator": [
        ("on_time_verify_dispatch_rate", FACTS, "f.verify_sender", "count(*) FILTER (WHERE f.verify_sent_on_time)",
         ALL, "true"),
        ("on_time_check_dispatch_rate", FACTS, "f.check_sender", "count(*) FILTER (WHERE f.check_sent_on_time)",
         ALL, "true"),
    ],
    "shift_leader": [
        ("on_time_filing_rate", FACTS, "f.filer", "count(*) FILTER (WHERE f.filed_on_time)", ALL, "f.filed"),
        ("accurate_filing_rate", FACTS, "f.filer", "count(*) FILTER (WHERE NOT f.cancelled_after_filing)", ALL,
         "f.filed"),
        ("on_time_closing_rate", FACTS, "f.closer", "count(*) FILTER (WHERE f.closed_on_time)", ALL, "f.closed"),
    ],
    "dispatcher": [
        ("on_time_dispatch_rate", DISPATCHES, "s.who", "count(*) FILTER (WHERE s.ok)", ALL, "true"),
        # a return is charged to the dispatch it undid: the n-th return to the n-th dispatch
        ("accurate_dispatch_rate", DISPATCHES, "s.who", "count(*) FILTER (WHERE s.n > f.returns)", ALL, "true"),
    ],
}
# The count score's tasks [ours]: the denominators of these indicators, summed per person.
TASKS = {"operator": ("on_time_verify_dispatch_rate", "on_time_check_dispatch_rate"),
         "dispatcher": ("on_time_dispatch_rate",)}
PERIOD = "f.reported_at >= %(start)s AND f.reported_at < %(end)s"


def _ratios(conn: psycopg.Connection, ind: Indicator, start: datetime, end: datetime) -> dict[str, scoring.Ratio]:
    _, source, subject, numerator, denominator, condition = ind
    rows = conn.execute(f"SELECT {subject}, {numerator}, {denominator} FROM {source} "
                        f"WHERE {PERIOD} AND {condition} AND {subject} IS NOT NULL GROUP BY 1",
                        {"start": start, "end": end}).fetchall()
    return {str(k): scoring.Ratio(int(n), int(d)) for k, n, d in rows}


def post_table_sql(conn: psycopg.Connection, start: datetime, end: datetime, role: str, actors: list[str],
                   grid_of: dict[str, str], weights: scoring.Scoring | None = None) -> list[scoring.Evaluation]:
    """`post_table` as grouped reads; `grid_of`: each inspector's responsibility grid (missed reports)."""
    s = weights or scoring.default_scoring()
    try:
        indicators = POST_INDICATORS[role]
    except KeyError:
        raise scoring.ScoringError(f"no post evaluation for role {role!r}") from None
    by = {ind[0]: _ratios(conn, ind, start, end) for ind in indicators}
    none = scoring.Ratio(0, 0)
    missed: dict[str, scoring.Ratio] = {}
    if role == "inspector":  # filed cases in the grid that came from elsewhere than an inspector
        missed = _ratios(conn, ("missed_rate", f"{FACTS} JOIN grid_cells g ON g.code = f.cell",
                                "g.responsibility_grid_id", "count(*) FILTER (WHERE f.source <> 'inspector')", ALL,
                                "f.filed"), start, end)
    tasks = {a: sum(by[name].get(a, none).denominator for name in TASKS.get(role, ())) for a in actors}
    top = max(tasks.values(), default=0)
    out = []
    for a in sorted(actors):
        ratios = {name: by[name].get(a, none) for name in by}
        extra: dict[str, float] = {}
        if role == "inspector":
            ratios["missed_rate"] = missed.get(grid_of[a], none) if a in grid_of else none
        if role in TASKS:
            extra["count_score"] = tasks[a] / top if top else 0.0
        out.append(s.evaluation(a, role, ratios, extra))
    return out


# Each department with every centre it counts for: its own (none: the top) and each one above it (docs/centres.md,
# "Scores by level"). A department of a centre no longer there, or in a city without centres, counts for none.
_DEPARTMENT_CENTRES = (
    "WITH RECURSIVE up(centre, ancestor) AS (SELECT id, id FROM centres UNION ALL "
    "SELECT up.centre, c.parent_id FROM up JOIN centres c ON c.id = up.ancestor WHERE c.parent_id IS NOT NULL) ")
_BY_CENTRE = ("scoring_department_days r JOIN departments d ON d.id = r.department JOIN up ON up.centre = "
              "coalesce(d.centre_id, (SELECT id FROM centres WHERE parent_id IS NULL LIMIT 1))")
DAYS = "r.day >= %(first)s AND r.day < %(end)s"


def _days(start: datetime, end: datetime) -> dict[str, date]:
    """The local days [first, end) of a period; the daily rollups (civicgrid/store/scoring_days.py) answer only
    periods of whole days, which are all the API asks for (day, 旬, month, year)."""
    first, stop = scoring_days.day_of(start), scoring_days.day_of(end)
    for t, d in ((start, first), (end, stop)):
        if t != datetime.combine(d, time(), CHINA_TZ):
            raise ValueError(f"a scoring period starts and ends at a local midnight (UTC+8), not at {t.isoformat()}")
    return {"first": first, "end": stop}


def department_table_sql(conn: psycopg.Connection, start: datetime, end: datetime, departments: list[str],
                         weights: scoring.Scoring | None = None, *, by_centre: bool = False
                         ) -> list[scoring.Evaluation]:
    """`department_table` as one grouped read of the daily rollups: the cases dispatched to each department;
    `by_centre`: to the departments of each centre, a district's rolled into the city above it (`departments`
    then lists the centres)."""
    s = weights or scoring.default_scoring()
    head, subject, source = (_DEPARTMENT_CENTRES, "up.ancestor", _BY_CENTRE) if by_centre else \
        ("", "r.department", "scoring_department_days r")
    rows = conn.execute(
        f"{head}SELECT {subject}, sum(r.due), sum(r.closed), sum(r.on_time), sum(r.reworks), sum(r.disposals) "
        f"FROM {source} WHERE {DAYS} GROUP BY 1 HAVING sum(r.due) > 0", _days(start, end)).fetchall()
    got = {r[0]: tuple(int(x) for x in r[1:]) for r in rows}
    out = []
    for d in sorted(set(departments) | set(got)):
        due, closed, on_time, reworks, disposals = got.get(d, (0, 0, 0, 0, 0))
        ratios = {"closing_rate": scoring.Ratio(closed, due), "on_time_disposal_rate": scoring.Ratio(on_time, due),
                  "rework_rate": scoring.Ratio(reworks, disposals)}
        out.append(s.evaluation(d, "department", ratios, {"case_count_score": s.case_count_score(due) / 100}))
    return out


def region_table_sql(conn: psycopg.Connection, start: datetime, end: datetime, level: str,
                     weights: scoring.Scoring | None = None) -> list[scoring.Evaluation]:
    """`region_table` as one grouped read of the daily rollups: by cell-code prefix, by responsibility grid (every
    grid listed), or by centre (every centre listed; a case counts for each centre whose area holds it: street,
    district, city)."""
    s = weights or scoring.default_scoring()
    if level == "grid":
        source, subject, condition = "scoring_cell_days r JOIN grid_cells g ON g.code = r.cell", \
            "g.responsibility_grid_id", "g.responsibility_grid_id IS NOT NULL"
        subjects = [r[0] for r in conn.execute("SELECT DISTINCT responsibility_grid_id FROM grid_cells "
                                               "WHERE responsibility_grid_id IS NOT NULL").fetchall()]
    elif level == "centre":  # levels (docs/centres.md): each centre's area, its streets' cases rolled into it
        source, subject, condition = "scoring_cell_days r JOIN centres ce ON r.cell LIKE ce.cell_prefix || '%%'", \
            "ce.id", "true"
        subjects = [r[0] for r in conn.execute("SELECT id FROM centres").fetchall()]
    else:
        digits = REGION_DIGITS[level]
        source, subject, condition = "scoring_cell_days r", f"left(r.cell, {digits})", f"length(r.cell) >= {digits}"
        subjects = []
    rows = conn.execute(
        f"SELECT {subject}, sum(r.filed), sum(r.public), sum(r.due), sum(r.closed), sum(r.by_deadline) "
        f"FROM {source} WHERE {DAYS} AND {condition} GROUP BY 1 HAVING sum(r.cases) > 0",
        _days(start, end)).fetchall()
    got = {r[0]: tuple(int(x) for x in r[1:]) for r in rows}
    out = []
    for p in sorted(set(subjects) | set(got)):
        filed, public, due, closed, by_deadline = got.get(p, (0, 0, 0, 0, 0))
        ratios = {"public_report_rate": scoring.Ratio(public, filed), "closing_rate": scoring.Ratio(closed, due),
                  "closed_by_deadline_rate": scoring.Ratio(by_deadline, due)}
        out.append(s.evaluation(p, "region", ratios, {"case_count_score": s.case_count_score(filed) / 100}))
    return out


def period_summary(conn: psycopg.Connection, start: datetime, end: datetime) -> tuple[int, list[int]]:
    """How many cases of the period have facts (the `cases` a table is over) and the rules versions they were
    filed under, from the daily rollups (a read of `cases` was a third of a table's time at 10 M cases)."""
    rows = conn.execute(f"SELECT r.rules_version, sum(r.cases) FROM scoring_version_days r WHERE {DAYS} "
                        "GROUP BY 1 HAVING sum(r.cases) > 0 ORDER BY 1", _days(start, end)).fetchall()
    return sum(int(n) for _, n in rows), [int(v) for v, _ in rows]
