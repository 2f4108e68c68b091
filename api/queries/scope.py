"""What a user may see: the single place of the scope rule, for cases, the map and the feed.

Fails closed: a department user with no department, an inspector with no responsibility grid, or
a role this rule does not name sees nothing until an admin gives them a scope. The centre's own
roles (operators, dispatchers, shift leaders, leaders, admins) see the whole city, unless they work at a
district centre (`users.centre_id`, docs/centres.md): then they see the cases their centre and the centres
under it handle (`cases.centre_id`, which follows escalations and transfers) and the feed events filed under
them. Admins always see the whole city.

The rule is decided once (`scope_of`) and rendered twice: as a SQL fragment for queries
(`scope_sql`), and as a predicate on rows already read (`Scope.admits`) for the live feed's
shared poller (api/feed_hub.py), which reads every new event once for all open streams.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.users import User
from civicgrid.domain.case_state import Role
from civicgrid.store.centres import WITHIN_SQL

CITY_WIDE = frozenset({Role.OPERATOR, Role.DISPATCHER, Role.SHIFT_LEADER, Role.LEADER, Role.ADMIN})
NOTHING: tuple[str, dict[str, Any]] = ("FALSE", {})


@dataclass(frozen=True, slots=True)
class Scope:
    """One of: the whole city (or the centres of a district, `centres`), one department's rows, one responsibility
    grid's cells, or nothing."""

    city_wide: bool = False
    department_id: str | None = None
    responsibility_grid_id: str | None = None
    centre_id: str | None = None  # with city_wide: a district's staff, who see what this centre reaches
    centres: frozenset[str] | None = None  # …which is these centres (None: everything; the feed hub reads them)

    def admits(self, department_id: str | None, responsibility_grid_id: str | None,
               centre_id: str | None = None) -> bool:
        """Whether a row owned by `department_id`, in a cell of `responsibility_grid_id`, filed under `centre_id`, is
        visible (rows without a cell are not: the feed's rule, ``unlocated_visible=False``)."""
        if self.city_wide:
            return self.centres is None or centre_id in self.centres
        if self.department_id is not None:
            return department_id == self.department_id
        if self.responsibility_grid_id is not None:
            return responsibility_grid_id == self.responsibility_grid_id
        return False


def scope_of(user: User, centres: frozenset[str] | None = None) -> Scope:
    """The rule itself; `centres`: the centres a district user's centre reaches (CentreTree.within), read by the
    caller who holds a connection (the live feed's hub, once per stream)."""
    if user.role in CITY_WIDE:
        if user.role is Role.ADMIN or not user.centre_id:
            return Scope(city_wide=True)
        return Scope(city_wide=True, centre_id=user.centre_id, centres=centres)
    if user.role is Role.DEPARTMENT and user.department_id:
        return Scope(department_id=user.department_id)
    if user.role is Role.INSPECTOR and user.responsibility_grid_id:
        return Scope(responsibility_grid_id=user.responsibility_grid_id)
    return Scope()


def scope_sql(user: User, alias: str, *, unlocated_visible: bool = False) -> tuple[str, dict[str, Any]]:
    """WHERE fragment on table alias `alias` (with ``department_id`` and ``grid_cell_code`` columns), and its
    parameters. `unlocated_visible`: an inspector also sees rows with no cell (cases anyone may verify)."""
    scope = scope_of(user)
    if scope.city_wide:
        if scope.centre_id is None:
            return "TRUE", {}
        # A district's staff: what their centre and the centres under it handle. The top centre's staff (the root,
        # no parent) see everything, cases not yet placed in any centre too.
        return (f"(EXISTS (SELECT 1 FROM centres WHERE id = %(scope_centre)s AND parent_id IS NULL) "
                f"OR {alias}.centre_id IN {WITHIN_SQL})"), {"scope_centre": scope.centre_id}
    if scope.department_id is not None:
        return f"{alias}.department_id = %(scope_department)s", {"scope_department": scope.department_id}
    if scope.responsibility_grid_id is not None:
        in_grid = (f"{alias}.grid_cell_code IN (SELECT code FROM grid_cells "
                   "WHERE responsibility_grid_id = %(scope_grid)s)")
        if unlocated_visible:
            in_grid = f"({alias}.grid_cell_code IS NULL OR {in_grid})"
        return in_grid, {"scope_grid": scope.responsibility_grid_id}
    return NOTHING
