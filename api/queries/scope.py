"""What a user may see, as one SQL fragment: the single place of the scope rule, for cases, the map and the feed.

Fails closed: a department user with no department, an inspector with no responsibility grid, or
a role this rule does not name sees nothing until an admin gives them a scope. The centre's own
roles (operators, dispatchers, shift leaders, leaders, admins) see the whole city.
"""

from __future__ import annotations

from typing import Any

from api.users import User
from civicgrid.domain.case_state import Role

CITY_WIDE = frozenset({Role.OPERATOR, Role.DISPATCHER, Role.SHIFT_LEADER, Role.LEADER, Role.ADMIN})
NOTHING: tuple[str, dict[str, Any]] = ("FALSE", {})


def scope_sql(user: User, alias: str, *, unlocated_visible: bool = False) -> tuple[str, dict[str, Any]]:
    """WHERE fragment on table alias `alias` (with ``department_id`` and ``grid_cell_code`` columns), and its
    parameters. `unlocated_visible`: an inspector also sees rows with no cell (cases anyone may verify)."""
    if user.role in CITY_WIDE:
        return "TRUE", {}
    if user.role is Role.DEPARTMENT and user.department_id:
        return f"{alias}.department_id = %(scope_department)s", {"scope_department": user.department_id}
    if user.role is Role.INSPECTOR and user.responsibility_grid_id:
        in_grid = (f"{alias}.grid_cell_code IN (SELECT code FROM grid_cells "
                   "WHERE responsibility_grid_id = %(scope_grid)s)")
        if unlocated_visible:
            in_grid = f"({alias}.grid_cell_code IS NULL OR {in_grid})"
        return in_grid, {"scope_grid": user.responsibility_grid_id}
    return NOTHING
