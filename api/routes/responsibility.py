"""/responsibility: the responsibility table (责任分解表) that suggests a department for each case."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from api.auth import require
from api.deps import Db
from api.errors import ApiError, not_found
from api.schemas.org import Rule, RuleIn
from api.users import User
from civicgrid.domain.case_state import Role
from civicgrid.store import responsibility as q

router = APIRouter(prefix="/responsibility", tags=["responsibility"])


# A department reads the table too: it judges by it whether a dispatched case is its own or asks for a return.
READERS = (Role.DISPATCHER, Role.SHIFT_LEADER, Role.LEADER, Role.OPERATOR, Role.DEPARTMENT)


@router.get("", summary="The rules: category (+ cell prefix) → department")
def list_rules(db: Db, user: Annotated[User, Depends(require(*READERS))]) -> list[Rule]:
    return [Rule(**r) for r in q.list_rules(db)]


@router.put("", summary="Add or replace the rule for a (category, prefix)",
            responses={422: {"description": "unknown department"}})
def put_rule(body: RuleIn, db: Db, admin: Annotated[User, Depends(require())]) -> Rule:
    if db.execute("SELECT 1 FROM departments WHERE id = %s", (body.department_id,)).fetchone() is None:
        raise ApiError(422, "unknown-department", f"unknown department {body.department_id!r}")
    return Rule(**q.upsert_rule(db, body.category_code, body.grid_prefix, body.department_id, body.note))


@router.delete("/{rule_id}", status_code=204, summary="Remove a rule", responses={404: {"description": "no rule"}})
def delete_rule(rule_id: Annotated[int, Path(ge=1, le=2**63 - 1)], db: Db,
                admin: Annotated[User, Depends(require())]) -> Response:
    if not q.delete_rule(db, rule_id):
        raise not_found("rule", rule_id)
    return Response(status_code=204)
