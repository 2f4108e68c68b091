"""What a user may see: the single place of the scope rule, for cases, the map and the feed.

Fails closed: a department user with no department, an inspector with no responsibility grid, or
a role this rule does not name sees nothing until an admin gives them a scope. The centre's own
roles (operators, dispatchers, shift leaders, leaders, admins) see the whole city.

The rule is decided once (`scope_of`) and rendered twice: as a SQL fragment for queries
(`scope_sql`), and as a predicate on rows already read (`Scope.admits`) for the live feed's
shared poller (api/feed_hub.py), which reads every new event once for all open streams.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.users import User
from civicgrid.domain.case_state import Role

CITY_WIDE = frozenset({Role.OPERATOR, Role.DISPATCHER, Role.SHIFT_LEADER, Role.LEADER, Role.ADMIN})
NOTHING: tuple[str, dict[str, Any]] = ("FALSE", {})


@dataclass(frozen=True, slots=True)
class Scope:
    """One of: the whole city, one department's rows, one responsibility grid's cells, or nothing."""

    city_wide: bool = False
    department_id: str | None = None
    responsibility_grid_id: str | None = None

    def admits(self, department_id: str | None, responsibility_grid_id: str | None) -> bool:
        """Whether a row owned by `department_id`, in a cell of `responsibility_grid_id`, is visible
        (rows without a cell are not: the feed's rule, ``unlocated_visible=False``)."""
        if self.city_wide:
            return True
        if self.department_id is not None:
            return department_id == self.department_id
        if self.responsibility_grid_id is not None:
            return responsibility_grid_id == self.responsibility_grid_id
        return False


def scope_of(user: User) -> Scope:
    """The rule itself."""
    if user.role in CITY_WIDE:
        return Scope(city_wide=True)
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
        return "TRUE", {}
    if scope.department_id is not None:
        return f"{alias}.department_id = %(scope_department)s", {"scope_department": scope.department_id}
    if scope.responsibility_grid_id is not None:
        in_grid = (f"{alias}.grid_cell_code IN (SELECT code FROM grid_cells "
                   "WHERE responsibility_grid_id = %(scope_grid)s)")
        if unlocated_visible:
            in_grid = f"({alias}.grid_cell_code IS NULL OR {in_grid})"
        return in_grid, {"scope_grid": scope.responsibility_grid_id}
    return NOTHING
