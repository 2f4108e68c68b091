"""What the case service refuses, typed: the API answers each with its HTTP status (api/errors.py),
the streams dead-letter or log it. Lifecycle refusals (illegal transition, role, missing data,
precondition) are the domain's own errors (civicgrid/domain/case_state.py) and pass through."""

from __future__ import annotations

from civicgrid.cases.repository import CaseChanged, CaseNotFound
from civicgrid.domain.errors import DomainError


class CaseRefused(DomainError):
    """A case intent the service will not carry out; `kind` is a short stable code for clients."""

    kind = "case-refused"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UnknownReference(CaseRefused):
    """A referenced row does not exist (a grid cell, component, department or medium)."""

    def __init__(self, what: str, value: object, hint: str = "") -> None:
        super().__init__(f"unknown {what} {value}" + (f"; {hint}" if hint else ""))
        self.kind = f"unknown-{what.replace(' ', '-')}"
        self.what, self.value = what, value


class SourceNotAllowed(CaseRefused):
    kind = "bad-source"


class NoDepartment(CaseRefused):
    kind = "no-department"


class NotAnInspector(CaseRefused):
    kind = "not-an-inspector"


class NoHandheld(CaseRefused):
    kind = "no-handheld"


class MergeRefused(CaseRefused):
    """合并 into a case that is closed, cancelled or the report itself."""

    kind = "merge-refused"


class OutOfReach(CaseRefused):
    """A move between centres that cannot be (nothing above the top, an unknown centre), or a dispatch to a body
    outside the dispatcher's centre (civicgrid/cases/centres.py)."""

    kind = "out-of-reach"


__all__ = ["CaseChanged", "CaseNotFound", "CaseRefused", "MergeRefused", "NoDepartment", "NoHandheld",
           "NotAnInspector", "OutOfReach",
           "SourceNotAllowed", "UnknownReference"]
