"""Who may take which case action: a data table (docs/domain.md §4), overridable per city.

The shipped default is `permissions.yaml`; `Permissions.merged` replaces the role
list of the actions a city names and keeps the rest.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from civicgrid.domain.case_state import Action, LifecycleError, Role


class InvalidPermissions(LifecycleError):
    """A permission table that names an unknown action or role."""


class PermissionsFile(BaseModel):
    """A permission file, `{actions: {action: [role, ...]}}` (the boundary: the rule pack validates a city's
    file with it and reports its errors by row, civicgrid/cases/pack_check.py)."""

    model_config = ConfigDict(extra="forbid")
    actions: dict[Action, list[Role]]


@dataclass(frozen=True, slots=True)
class Permissions:
    roles_by_action: Mapping[Action, frozenset[Role]]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Permissions:
        """Build from `{"actions": {action: [role, ...]}}`; actions not listed allow nobody."""
        return cls({}).merged(data)

    def merged(self, data: Mapping[str, Any]) -> Permissions:
        actions = data.get("actions")
        if not isinstance(actions, Mapping) or set(data) - {"actions"}:
            raise InvalidPermissions("permission data must be {'actions': {action: [roles]}}")
        table = dict(self.roles_by_action)
        for name, roles in actions.items():
            try:
                action = Action(name)
            except ValueError:
                raise InvalidPermissions(f"unknown action {name!r} in permission data") from None
            table[action] = _roles(action, roles)
        return Permissions(table)

    def roles_for(self, action: Action) -> frozenset[Role]:
        return self.roles_by_action.get(action, frozenset())

    def allows(self, role: Role | str, action: Action) -> bool:
        return role in self.roles_for(action)


def _roles(action: Action, roles: Iterable[str]) -> frozenset[Role]:
    if isinstance(roles, str):
        raise InvalidPermissions(f"roles of {action.value} must be a list")
    out = set()
    for r in roles:
        try:
            out.add(Role(r))
        except ValueError:
            raise InvalidPermissions(f"unknown role {r!r} for action {action.value}") from None
    return frozenset(out)


@functools.cache
def default_permissions() -> Permissions:
    """The table shipped with civicgrid (`permissions.yaml`), read once."""
    text = resources.files("civicgrid.domain").joinpath("permissions.yaml").read_text(encoding="utf-8")
    return Permissions.from_mapping(yaml.safe_load(text))
