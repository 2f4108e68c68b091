"""Duplicates: before a report is filed, the open cases it may repeat are offered, and the report can be linked to
one of them instead of opening a case of its own.

Twenty people call about the same overflowing bin; the centre wants one case, and twenty people told when it is
emptied. A candidate is an open case of the same category within the rule pack's radius of the report's point
(default 50 m, ``duplicates.yaml``), reported within its window (default 30 days). Linking keeps the report as
evidence on the case (with its photos and voice notes) and its caller on the case's callers
(civicgrid/cases/callers.py), so the caller is told when it closes; the case's state does not change. The console's
operator, an inspector's handheld (online, before it queues the report: api/console/handheld/duplicates.js) and the
Open311 POST (docs/open311.md) all go through `candidates` and `link` here. A handheld report sent without the
question (queued offline) is merged by the case builder into the open case of its category and cell instead
(civicgrid/cases/intake.py `record_problem`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from pydantic import BaseModel, ConfigDict, Field

from civicgrid.cases import evidence as ev
from civicgrid.cases import repository as store
from civicgrid.cases.callers import Caller, add_caller, same_transfer
from civicgrid.cases.errors import CaseRefused
from civicgrid.domain.case_state import TERMINAL, Action, Role
from civicgrid.domain.permissions import Permissions
from civicgrid.store.duplicates import NearbyCase, open_cases_near

__all__ = ["DuplicateRule", "DuplicatesFile", "LinkRefused", "Linked", "NearbyCase", "candidates", "link"]

MAX_RADIUS_M = 1000.0


class DuplicatesFile(BaseModel):
    """The rule pack's ``duplicates.yaml`` (checked by civicgrid/cases/pack_check.py like every table)."""

    model_config = ConfigDict(extra="forbid")
    radius_m: float = Field(default=50.0, gt=0, le=MAX_RADIUS_M)
    window_days: float = Field(default=30.0, gt=0, le=366)


@dataclass(frozen=True, slots=True)
class DuplicateRule:
    """How near and how recent an open case must be to be offered as the one a new report repeats."""

    radius_m: float = 50.0
    window: timedelta = field(default_factory=lambda: timedelta(days=30))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> DuplicateRule:
        """From the pack's table; a version stored before the table existed has none: the defaults."""
        parsed = DuplicatesFile.model_validate(data or {})
        return cls(parsed.radius_m, timedelta(days=parsed.window_days))


class LinkRefused(CaseRefused):
    """A link to a case that is closed or cancelled, or by a role that may not report."""

    kind = "link-refused"


@dataclass(frozen=True, slots=True)
class Linked:
    case_id: str
    case_no: str
    caller_id: int


def candidates(rule: DuplicateRule, conn: psycopg.Connection, category_code: str, lon: float, lat: float,
               now: datetime, *, radius_m: float | None = None, limit: int = 10) -> list[NearbyCase]:
    """The open cases a report of `category_code` at the point may repeat, nearest first. `radius_m` (at most
    1 km) overrides the pack's radius for one question (an operator widening the search)."""
    radius = rule.radius_m if radius_m is None else min(radius_m, MAX_RADIUS_M)
    return open_cases_near(conn, category_code=category_code, lon=lon, lat=lat, radius_m=radius,
                           since=now - rule.window, limit=limit)


def link(permissions: Permissions, conn: psycopg.Connection, role: Role, actor: str, case_id: str, caller: Caller,
         now: datetime, media_ids: tuple[str, ...] = (), *, details: Mapping[str, Any] | None = None) -> Linked:
    """Link a report to an open case instead of filing it: its words and photos (`media_ids`, uploaded first) as
    evidence, with `details` of its source (a leader's instruction, a transfer: civicgrid/cases/referrals.py), its
    caller on the case. Who may report may link; a closed or cancelled case is refused (the report is
    then filed anew)."""
    if not permissions.allows(role, Action.REPORT):
        raise LinkRefused(f"role {role.value} may not report, so may not link a report to a case")
    with conn.transaction():
        case = store.lock_case(conn, case_id)  # CaseNotFound; the lock orders a link against a close
        if case.state in TERMINAL:
            raise LinkRefused(f"case {case_id} is {case.state.value}: file the report as a new case")
        row = conn.execute("SELECT case_no FROM cases WHERE id = %s", (case_id,)).fetchone()
        assert row is not None
        known = same_transfer(conn, case_id, caller)
        if known is not None:  # the same transfer again (a second click, a re-sent form): that link
            return Linked(case_id, str(row[0]), known)
        media = ev.media_of(conn, media_ids)  # UnknownReference: upload with POST /media first
        caller_id = add_caller(conn, case_id, caller, linked=True)
        data = {k: v for k, v in {"linked": True, "channel": caller.channel, "by": actor,
                                  "description": caller.description, "media_url": caller.media_url}.items() if v}
        data.update(details or {})
        report = store.Evidence(f"linked:{case_id}:{caller_id}", "report", now, None, data)
        store.add_evidence(conn, case_id, report)
        for photo in ev.report_media(report, media):
            store.add_evidence(conn, case_id, photo)
    return Linked(case_id, str(row[0]), caller_id)
