"""/admin/rules: the city's rule pack — the current version, and a new one loaded without restart (docs/rules.md).

The body is the pack as JSON, one key per table with the shape of its YAML file; a table left out is the shipped
one. A pack with errors is refused with 422 and every error (file, row, field, message); a valid one becomes the
current version (unless it equals it), and every API process and stream worker files new cases under it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response
from pydantic import BaseModel

from api.auth import require
from api.deps import Ctx, Db
from api.errors import ApiError
from api.users import User
from civicgrid.cases.pack import InvalidPack, counts, from_tables
from civicgrid.cases.rulebook import store_pack
from civicgrid.domain.case_state import Role
from civicgrid.store import rule_packs

router = APIRouter(prefix="/admin/rules", tags=["admin"])


class RulesVersion(BaseModel):
    version: int
    digest: str
    source: str
    loaded_by: str
    loaded_at: datetime
    counts: dict[str, str]
    created: bool | None = None


_EXAMPLE = {"working_calendar": {"round_the_clock": True},
            "permissions": {"actions": {"...": "every action with its roles, as permissions.yaml"}}}


def _public(stored: rule_packs.StoredPack, created: bool | None = None) -> RulesVersion:
    return RulesVersion(version=stored.version, digest=stored.digest, source=stored.source,
                        loaded_by=stored.loaded_by, loaded_at=stored.loaded_at, counts=counts(stored.content),
                        created=created)


@router.get("", summary="The current rules version: number, source, digest, what each table holds")
def current_rules(ctx: Ctx, db: Db, user: Annotated[User, Depends(require(Role.ADMIN))]) -> RulesVersion:
    version, _ = ctx.book.current(db)  # stores version 1 (the shipped defaults) when nothing is stored yet
    stored = rule_packs.get(db, version)
    assert stored is not None  # versions are never deleted
    return _public(stored)


@router.post("", status_code=201, summary="Load a rule pack as the new current version",
             responses={200: {"description": "the pack equals the current version; nothing stored"},
                        422: {"description": "the pack is refused; `errors` lists every error with its file, row "
                                             "and field"}})
def load_rules(ctx: Ctx, db: Db, response: Response, user: Annotated[User, Depends(require(Role.ADMIN))],
               tables: Annotated[dict[str, Any], Body(openapi_examples={"24-hour duty": {"value": _EXAMPLE}})]) \
        -> RulesVersion:
    try:
        pack = from_tables(tables, "admin API")
    except InvalidPack as exc:
        raise ApiError(422, "invalid-rule-pack", f"the rule pack is refused: {len(exc.errors)} error(s)",
                       errors=[e.as_json() for e in exc.errors]) from None
    version, created = store_pack(db, pack, f"api:{user.username}")
    if not created:
        response.status_code = 200
    stored = rule_packs.get(db, version)
    assert stored is not None
    return _public(stored, created)
