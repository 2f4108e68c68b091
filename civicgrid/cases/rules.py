"""One object with every rule a case is judged by: catalogue, time limits, working calendar,
permissions, scoring weights and the lifecycle policy.

Built once per process (`default_rules()` today; a city's own files later) and handed to
the case service, the API and the streams alike, so both sides of the platform apply the
same rules. The derived rules that used to be written in several services live here once:
the disposal class of a case, its deadlines, its traffic light.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from civicgrid.cases.duplicates import DuplicateRule
from civicgrid.domain.case_state import TERMINAL, CaseState, State
from civicgrid.domain.catalogue import Catalogue, UnknownCategory, default_catalogue
from civicgrid.domain.lifecycle import Policy
from civicgrid.domain.permissions import Permissions, default_permissions
from civicgrid.domain.scoring import Scoring, default_scoring
from civicgrid.domain.time_limits import (
    DisposalClass,
    Light,
    Limit,
    TimeLimits,
    after_suspension,
    default_time_limits,
    disposal_deadline,
    postpone,
)
from civicgrid.domain.working_calendar import WorkingCalendar, default_calendar

# The class of a case whose category this city's catalogue does not know (a device profile's
# code the catalogue dropped, an old case): the middle of A–F, so it still gets a deadline.
FALLBACK_CLASS = DisposalClass.C


@dataclass(frozen=True, slots=True)
class Rules:
    catalogue: Catalogue = field(default_factory=default_catalogue)
    limits: TimeLimits = field(default_factory=default_time_limits)
    calendar: WorkingCalendar = field(default_factory=default_calendar)
    permissions: Permissions = field(default_factory=default_permissions)
    scoring: Scoring = field(default_factory=default_scoring)
    policy: Policy = field(default_factory=Policy)
    duplicates: DuplicateRule = field(default_factory=DuplicateRule)  # civicgrid/cases/duplicates.py

    # -- the catalogue ------------------------------------------------------
    def area_of(self, cell: str | None) -> str | None:
        """The area class (core, general streets …) of a case's grid cell, by the time limits' `area_cells`."""
        return self.limits.area_of(cell)

    def disposal_class(self, category: str | None, explicit: DisposalClass | str | None = None,
                       cell: str | None = None) -> DisposalClass:
        """The case's own class if set, else its category's in its cell's area class, else its category's, else
        `FALLBACK_CLASS`: the one fallback."""
        if explicit is not None:
            return DisposalClass(explicit)
        if category is None:
            return FALLBACK_CLASS
        try:
            return self.catalogue.disposal_class_in(category, self.area_of(cell))
        except UnknownCategory:
            return FALLBACK_CLASS

    def class_of(self, case: CaseState) -> DisposalClass:
        return self.disposal_class(case.category, case.disposal_class, case.cell)

    def disposal_limit(self, category: str | None, explicit: DisposalClass | str | None = None,
                       cell: str | None = None) -> Limit:
        """The disposal limit of a case of `category` in `cell`: by its class and area class (TimeLimits.disposal)."""
        return self.limits.disposal(self.disposal_class(category, explicit, cell), category=category,
                                    area=self.area_of(cell))

    def category_name(self, category: str) -> str | None:
        """The category's Chinese name, None when the catalogue does not know it."""
        try:
            return self.catalogue.get(category).zh
        except UnknownCategory:
            return None

    # -- deadlines ----------------------------------------------------------
    def disposal_deadline(self, start: datetime, category: str | None,
                          explicit: DisposalClass | str | None = None, cell: str | None = None) -> datetime:
        """When disposal started at `start` (a dispatch, a rework, or a provisional one at the report) is due;
        `cell`: the case's grid cell, whose area class may give the category another class or limit."""
        return disposal_deadline(start, self.limits, self.calendar, self.disposal_class(category, explicit, cell),
                                 category=category, area=self.area_of(cell))

    def rework_deadline(self, case: CaseState, now: datetime) -> datetime:
        """返工 restarts the disposal clock at the rework."""
        return self.disposal_deadline(now, case.category, case.disposal_class, case.cell)

    def resumed_deadline(self, case: CaseState, now: datetime) -> datetime | None:
        """挂账 stopped the clock: the time left at suspension counts again from `now` (None: no deadline)."""
        if case.disposal_deadline is None or case.suspended_at is None:
            return None
        limit = self.disposal_limit(case.category, case.disposal_class, case.cell)
        return after_suspension(case.disposal_deadline, case.suspended_at, now, limit, self.calendar)

    def postponed_deadline(self, case: CaseState, extension: Limit) -> datetime | None:
        return None if case.disposal_deadline is None else postpone(case.disposal_deadline, extension, self.calendar)

    # -- the traffic light --------------------------------------------------
    def time_light(self, state: State, dispatched_at: datetime | None, due: datetime | None,
                   disposal_class: DisposalClass, category: str | None, now: datetime,
                   cell: str | None = None) -> Light | None:
        """By the share of the disposal time used (green ≤ 80 %, yellow ≤ 100 %, red); None when no clock runs.
        The clock runs from dispatch (or the latest rework), in the limit's kind of time."""
        if state in TERMINAL or dispatched_at is None or due is None:
            return None
        start = dispatched_at
        if self.limits.disposal(disposal_class, category=category, area=self.area_of(cell)).natural:
            total, used = (due - start).total_seconds(), (now - start).total_seconds()
        else:
            total = self.calendar.working_time_between(start, due).total_seconds()
            used = self.calendar.working_time_between(start, now).total_seconds() if now > start else 0.0
        share = used / total if total > 0 else (1.0 if now > due else 0.0)
        return self.limits.traffic_light(share)


def default_rules() -> Rules:
    """The rules shipped with civicgrid (docs/domain.md)."""
    return Rules()
