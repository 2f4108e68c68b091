"""The case application layer: every way a case is opened or moved goes through here.

One `CaseService`, built once per process from one `Rules` object, owns each case intent:
a report from a person (API), a problem from a device (streams), an operator's action,
an inspector's answer to a field task, and the deadline watch's escalation. Each intent is
one transaction: lock, the pure lifecycle (civicgrid/domain/lifecycle.py) makes the
`Transition`, the store (civicgrid/cases/repository.py) writes the case row, its event and its
outbox row. Deadlines, the disposal-class fallback, evidence and photos are decided here
and nowhere else. Failures are typed (errors.py); the API maps them to HTTP in one place,
the streams to dead letters or log lines.
"""

from civicgrid.cases.rules import Rules, default_rules
from civicgrid.cases.service import CaseService

__all__ = ["CaseService", "Rules", "default_rules"]
