"""Supervision and command centres on levels (一级监督、两级指挥、三级管理): who handles a case where.

A large city runs one city centre over district centres (and sometimes street centres); a county town
runs one centre and needs none of this. Each centre covers the grid cells whose code starts with its
prefix (a district is a county-level code, GB/T 2260, six digits; a street nine), so the centre a case
belongs to is the deepest one whose prefix its cell code starts with: no lookup table to keep in step
with the cells (that rule is SQL, `centre_of_cell` in migration 0027, because the live feed's triggers
need it for alarms too). A case keeps its centre until someone escalates it (上报上级: to the centre above) or
transfers it (转办: to another centre), each a step of its timeline.

There is one top: the root centre (the city centre), or no centre at all. A user or department at the top, or
without a centre, sees the whole city, as in a one-centre town; so does a case without a centre (not yet
placed, or older than the city's centres) belong to the top.
Pure: the tree is built from rows the store reads; nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from civicgrid.domain.errors import DomainError


class CentreLevel(StrEnum):
    CITY = "city"  # 市级监督指挥中心
    DISTRICT = "district"  # 区级指挥中心 (county-level: 区, 县, 县级市)
    STREET = "street"  # 街道 (乡镇) 管理中心


_DEPTH = {CentreLevel.CITY: 0, CentreLevel.DISTRICT: 1, CentreLevel.STREET: 2}


class InvalidCentres(DomainError):
    """The centres do not form a tree of nested prefixes; `reason` names the centre and what is wrong."""


@dataclass(frozen=True, slots=True)
class Centre:
    id: str
    name: str
    level: CentreLevel
    cell_prefix: str  # the cells it covers; "" for a city centre over every cell
    parent_id: str | None = None


class CentreTree:
    """The city's centres, checked on construction: one root at most, each child's prefix inside its parent's
    and longer, levels descending (which also rules out a cycle)."""

    def __init__(self, centres: Iterable[Centre]) -> None:
        self.by_id: dict[str, Centre] = {}
        for c in centres:
            if c.id in self.by_id:
                raise InvalidCentres(f"centre {c.id!r} is listed twice")
            if not (c.cell_prefix == "" or c.cell_prefix.isdigit()):
                raise InvalidCentres(f"centre {c.id!r}: cell_prefix {c.cell_prefix!r} is not digits")
            self.by_id[c.id] = c
        for c in self.by_id.values():
            self._check(c)
        roots = sorted(c.id for c in self.by_id.values() if c.parent_id is None)
        if len(roots) > 1:
            raise InvalidCentres(f"centres {', '.join(roots)} have no parent: one centre is the top, the others "
                                 "name the centre above them")
        self._children: dict[str | None, list[str]] = {}
        for c in self.by_id.values():
            self._children.setdefault(c.parent_id, []).append(c.id)

    def _check(self, c: Centre) -> None:
        if c.parent_id is None:
            return
        parent = self.by_id.get(c.parent_id)
        if parent is None:
            raise InvalidCentres(f"centre {c.id!r}: parent {c.parent_id!r} is not a centre")
        if _DEPTH[c.level] <= _DEPTH[parent.level]:
            raise InvalidCentres(f"centre {c.id!r} ({c.level}) cannot be under {parent.id!r} ({parent.level})")
        if not c.cell_prefix.startswith(parent.cell_prefix) or c.cell_prefix == parent.cell_prefix:
            raise InvalidCentres(f"centre {c.id!r}: prefix {c.cell_prefix!r} is not inside its parent "
                                 f"{parent.id!r}'s {parent.cell_prefix!r}")

    def __bool__(self) -> bool:
        return bool(self.by_id)

    def get(self, centre_id: str) -> Centre:
        try:
            return self.by_id[centre_id]
        except KeyError:
            raise InvalidCentres(f"no centre {centre_id!r}") from None

    def parent_of(self, centre_id: str | None) -> str | None:
        """The centre above (where an escalation goes); None is the top."""
        return None if centre_id is None else self.get(centre_id).parent_id

    def within(self, centre_id: str | None) -> frozenset[str] | None:
        """The centre and every centre under it; None means everything (the top, or no centre)."""
        if centre_id is None or self.get(centre_id).parent_id is None:
            return None
        out: set[str] = set()
        todo = [centre_id]
        while todo:
            current = todo.pop()
            if current not in out:
                out.add(current)
                todo.extend(self._children.get(current, ()))
        return frozenset(out)


def escalation_target(tree: CentreTree, case_centre: str | None) -> str | None:
    """Where 上报上级 takes a case: the centre above. Refused at the top, which has nobody above it."""
    if case_centre is None or tree.parent_of(case_centre) is None:
        raise InvalidCentres("the case is with the top centre already: there is no level above to escalate to")
    return tree.parent_of(case_centre)


def transfer_target(tree: CentreTree, case_centre: str | None, target: str) -> str:
    """Where 转办 takes a case: another existing centre (typically a neighbouring district)."""
    tree.get(target)
    if target == case_centre:
        raise InvalidCentres(f"the case is with {target!r} already")
    return target
