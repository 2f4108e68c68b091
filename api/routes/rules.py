"""/admin/rules: the city's rule pack — the current version, and a new one loaded without restart (docs/rules.md).

The body is the pack as JSON, one key per table with the shape of its YAML file (a table left out is the shipped
one), or an Excel workbook (civicgrid/cases/pack_excel.py; a sheet left out is the shipped table) sent as the
body with the .xlsx media type. A pack with errors is refused with 422 and every error (file, row, field,
message; a workbook's at its sheet and cell, e.g. ``处置时限!D7``); a valid one becomes the current version (unless
it equals it), and every API process and stream worker files new cases under it. GET template.xlsx gives the
current version as that workbook: the template a centre edits and sends back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from api.auth import require
from api.deps import Ctx, Db
from api.errors import ApiError
from api.users import User
from civicgrid.cases.pack import InvalidPack, RulePack, counts, from_tables
from civicgrid.cases.pack_excel import MEDIA_TYPE, export_workbook, read_workbook
from civicgrid.cases.rulebook import store_pack
from civicgrid.domain.case_state import Role
from civicgrid.store import rule_packs

router = APIRouter(prefix="/admin/rules", tags=["admin"])
XLSX = MEDIA_TYPE


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


async def _body(request: Request) -> tuple[str, bytes]:
    """The body and what it says it is (read here, bounded by api/body_limit.py; parsed in the route's thread)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower(), await request.body()


def _pack(kind: str, body: bytes) -> RulePack:
    """The pack a body holds; InvalidPack with every error, ApiError when it is neither JSON nor a workbook."""
    if kind == XLSX:
        return read_workbook(body, "workbook", "admin API (xlsx)")
    if kind not in ("application/json", ""):
        raise ApiError(415, "unsupported-media-type", f"send the pack as application/json or as an Excel workbook "
                                                      f"({XLSX}), not {kind!r}")
    try:
        tables = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(422, "invalid-rule-pack", f"the body is not JSON: {exc}") from None
    if not isinstance(tables, dict):
        raise ApiError(422, "invalid-rule-pack", "the pack is a JSON object, one key per table")
    return from_tables(tables, "admin API")


_BODY = {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "additionalProperties": True},
                         "examples": {"24-hour duty": {"value": _EXAMPLE}}},
    XLSX: {"schema": {"type": "string", "format": "binary"},
           "examples": {"workbook": {"summary": "the workbook GET /admin/rules/template.xlsx gives, edited"}}}}}


@router.post("", status_code=201, summary="Load a rule pack (JSON or an Excel workbook) as the new current version",
             openapi_extra={"requestBody": _BODY},
             responses={200: {"description": "the pack equals the current version; nothing stored"},
                        415: {"description": "the body is neither JSON nor an .xlsx workbook"},
                        422: {"description": "the pack is refused; `errors` lists every error with its file, row "
                                             "and field (a workbook's: its sheet and cell, e.g. 处置时限!D7)"}})
def load_rules(ctx: Ctx, db: Db, response: Response, user: Annotated[User, Depends(require(Role.ADMIN))],
               body: Annotated[tuple[str, bytes], Depends(_body)]) -> RulesVersion:
    try:
        pack = _pack(*body)
    except InvalidPack as exc:
        raise ApiError(422, "invalid-rule-pack", f"the rule pack is refused: {len(exc.errors)} error(s)",
                       errors=[e.as_json() for e in exc.errors]) from None
    version, created = store_pack(db, pack, f"api:{user.username}")
    if not created:
        response.status_code = 200
    stored = rule_packs.get(db, version)
    assert stored is not None
    return _public(stored, created)


@router.get("/template.xlsx", summary="The current rule pack as an Excel workbook, to edit and send back",
            response_class=Response,
            responses={200: {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
                             "description": "one sheet per table, Chinese headers (部件事件目录, 处置时限, 工作日历, "
                                            "角色权限, 评价权重 …)"}})
def rules_template(ctx: Ctx, db: Db, user: Annotated[User, Depends(require(Role.ADMIN))]) -> Response:
    version, _ = ctx.book.current(db)
    stored = rule_packs.get(db, version)
    assert stored is not None
    data = export_workbook(stored.content, f"civicgrid rule pack, version {version}, digest {stored.digest}")
    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="civicgrid-rules-v{version}.xlsx"',
        "Cache-Control": "no-store"})
