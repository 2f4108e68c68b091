"""The ``case_facts`` table: each case's CJ/T 292 scoring facts, kept up to date as its events are written.

A scoring table used to replay every case of the period on each request (api/case_facts_cache.py, kept as the
reference). Here the facts are computed once per event instead: the case repository calls `maintain` in the
same transaction that writes a case event, so the facts a table reads are those of the committed events, never
ahead of them nor behind. The facts still come from the one pure function (`civicgrid.domain.case_facts`)
with the time rules of the version the case was filed under (docs/rules.md); this module only replays one case
and stores the result as flat columns that api/queries/scoring.py can group in SQL; `write` also moves the
daily rollups the department and region tables read (civicgrid/store/scoring_days.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import psycopg

from civicgrid.domain.case_facts import CaseFacts, case_facts
from civicgrid.domain.catalogue import Catalogue
from civicgrid.domain.time_limits import TimeLimits
from civicgrid.domain.working_calendar import WorkingCalendar
from civicgrid.store import scoring_days

if TYPE_CHECKING:
    from civicgrid.cases.rules import Rules


class Judge(NamedTuple):
    """What decides a case's on-time flags: its version's limits, calendar and catalogue."""

    limits: TimeLimits
    calendar: WorkingCalendar
    catalogue: Catalogue

    @classmethod
    def of(cls, rules: Rules) -> Judge:
        return cls(rules.limits, rules.calendar, rules.catalogue)


# Scalar facts in table order; the two step lists are stored as parallel arrays after them.
SCALARS = ("reported_at", "source", "reporter", "reporter_role", "cell", "category", "verify_sender",
           "verify_sent_on_time", "verifier", "verified_on_time", "verified", "filer", "filed", "filed_on_time",
           "cancelled", "cancelled_after_filing", "self_handled", "returns", "department", "disposals",
           "disposed_on_time", "reworks", "check_sender", "check_sent_on_time", "closer", "closed",
           "closed_on_time", "closed_by_deadline", "close_type")
LISTS = ("dispatchers", "dispatched_on_time", "checkers", "checked_on_time")
COLUMNS = ("case_id", "version", "rules_version", *SCALARS, *LISTS)
_UPSERT = (f"INSERT INTO case_facts ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))}) "
           "ON CONFLICT (case_id) DO UPDATE SET "
           + ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[1:]))

_judges: dict[str, Judge] = {}  # by rule-pack digest: a digest names one content, so an entry never goes stale
_lock = threading.Lock()


def row(facts: CaseFacts, version: int, rules_version: int | None) -> tuple[Any, ...]:
    """The table row of one case's facts computed at case version `version` by the rules of `rules_version`."""
    return (facts.case_id, version, rules_version, *(getattr(facts, c) for c in SCALARS),
            [who for who, _ in facts.dispatchers], [ok for _, ok in facts.dispatchers],
            [who for who, _ in facts.checks], [ok for _, ok in facts.checks])


def write(conn: psycopg.Connection, rows: Iterable[tuple[Any, ...]], *, locked: bool = False) -> None:
    """Store facts rows (`row`) and move the daily rollups by what changed (civicgrid/store/scoring_days.py), in
    the caller's transaction.

    The cases are locked first (in id order; `locked`: the caller holds their locks, as the case service does),
    so no other transaction writes the same cases' facts between the read of the facts before and the upsert:
    each difference is taken against the facts the rollups last counted."""
    new = [dict(zip(COLUMNS, r, strict=True)) for r in rows]
    if not new:
        return
    ids = sorted({str(f["case_id"]) for f in new})
    if not locked:
        conn.execute("SELECT 1 FROM cases WHERE id = ANY(%s::uuid[]) ORDER BY id FOR UPDATE", (ids,))
    before = conn.execute(f"SELECT {', '.join(scoring_days.FIELDS)} FROM case_facts WHERE case_id = ANY(%s::uuid[])",
                          (ids,)).fetchall()
    with conn.cursor() as cur:
        cur.executemany(_UPSERT, [tuple(f[c] for c in COLUMNS) for f in new])
    scoring_days.move(conn, [dict(zip(scoring_days.FIELDS, r, strict=True)) for r in before], new)


def maintain(conn: psycopg.Connection, case_id: str) -> None:
    """Recompute one case's facts from all its events and store them, in the caller's transaction.

    Called after the case row and its newest event were written (civicgrid/cases/repository.py), so the case
    row's version and rules version and the events read here are those of this transaction."""
    found = conn.execute(
        "SELECT c.version, c.reported_at, c.rules_version, p.digest FROM cases c "
        "LEFT JOIN rule_packs p ON p.version = coalesce(c.rules_version, 1) WHERE c.id = %s", (case_id,)).fetchone()
    if found is None:
        return
    version, reported_at, rules_version, digest = found
    events = conn.execute("SELECT payload FROM case_events WHERE case_id = %s AND time >= %s",
                          (case_id, reported_at)).fetchall()
    if not events:
        return
    judge = _judge(conn, rules_version, digest)
    facts = case_facts((e[0] for e in events), judge.limits, judge.calendar, catalogue=judge.catalogue)
    write(conn, [row(f, version, rules_version) for f in facts], locked=True)  # the case service's lock


def _judge(conn: psycopg.Connection, rules_version: int | None, digest: str | None) -> Judge:
    """The case's version's time rules (None: filed before versions existed, version 1; no `digest`: nothing
    stored yet, this code's shipped defaults), built once per pack content. Imported here, not at the top: the
    case package's modules import the repository, which imports this module."""
    from civicgrid.cases.pack import build_rules, shipped_pack

    if digest is None:
        return Judge.of(shipped_pack().rules)
    with _lock:
        judge = _judges.get(digest)
    if judge is None:
        content = conn.execute("SELECT content FROM rule_packs WHERE version = %s", (rules_version or 1,)).fetchone()
        judge = Judge.of(build_rules(content[0])) if content else Judge.of(shipped_pack().rules)
        with _lock:
            _judges[digest] = judge
    return judge


def missing(conn: psycopg.Connection, start: datetime, end: datetime) -> int:
    """How many of the period's cases have no facts row, or facts of an older version (0: the table is whole)."""
    got = conn.execute("SELECT count(*) FROM cases c LEFT JOIN case_facts f ON f.case_id = c.id "
                       "WHERE c.reported_at >= %s AND c.reported_at < %s AND (f.case_id IS NULL "
                       "OR f.version <> c.version)", (start, end)).fetchone()
    return int(got[0]) if got else 0
