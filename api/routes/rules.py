"""/admin/rules: the city's rule pack — the current version, and a new one loaded without restart (docs/rules.md).

The body is the pack as JSON, one key per table with the shape of its YAML file (a table left out is the shipped
one), or an Excel workbook (civicgrid/cases/pack_excel.py; a sheet left out is the shipped table) sent as the
body with the .xlsx media type. A pack with errors is refused with 422 and every error (file, row, field,
message; a workbook's at its sheet and cell, e.g. ``处置时限!D7``); a valid one becomes the current version (unless
it equals it), and every API process and stream worker files new cases under it. GET template.xlsx gives the
current version as that workbook: the template a centre edits and sends back; GET content gives it as the JSON that
POST takes (the console's admin page edits that). `?reason=` on POST is the admin's why, kept with who, when and what
changed on the version's audit record (civicgrid/store/rule_audit.py), listed newest first by GET history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from api.auth import require
from api.deps import Ctx, Db
from api.errors import ApiError
from api.users import User
from civicgrid.cases.pack import InvalidPack, RulePack, counts, from_tables
from civicgrid.cases.pack_excel import MEDIA_TYPE, export_workbook, read_workbook
from civicgrid.cases.rulebook import store_pack
from civicgrid.domain.case_state import Role
from civicgrid.store import rule_audit, rule_packs

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
               body: Annotated[tuple[str, bytes], Depends(_body)],
               reason: Annotated[str | None, Query(max_length=500, description="why: kept on the audit record")]
               = None) -> RulesVersion:
    try:
        pack = _pack(*body)
    except InvalidPack as exc:
        raise ApiError(422, "invalid-rule-pack", f"the rule pack is refused: {len(exc.errors)} error(s)",
                       errors=[e.as_json() for e in exc.errors]) from None
    loaded_by = f"api:{user.username}"
    store_pack(db, None, loaded_by)  # the shipped defaults as version 1 first, when nothing is stored
    try:  # the responsibility table and patrol plans are checked against the database as the version is stored
        version, created = rule_packs.store(db, pack.content, pack.digest, pack.source, loaded_by,
                                            reason=(reason or "").strip() or None)
    except InvalidPack as exc:
        raise ApiError(422, "invalid-rule-pack", f"the rule pack is refused: {len(exc.errors)} error(s)",
                       errors=[e.as_json() for e in exc.errors]) from None
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


@router.get("/content", summary="The current rule pack's tables as JSON, in the shape POST /admin/rules takes")
def rules_content(ctx: Ctx, db: Db, user: Annotated[User, Depends(require(Role.ADMIN))]) -> dict[str, Any]:
    version, _ = ctx.book.current(db)
    stored = rule_packs.get(db, version)
    assert stored is not None
    return {"version": version, "digest": stored.digest, "tables": stored.content}


class AuditPublic(BaseModel):
    version: int
    previous_version: int | None
    at: datetime
    actor: str
    source: str
    digest: str
    tables_changed: list[str]
    summary: str
    reason: str | None


class AuditList(BaseModel):
    items: list[AuditPublic]


@router.get("/history", summary="Who changed the rules, when, what and why: one record per version, newest first")
def rules_history(db: Db, user: Annotated[User, Depends(require(Role.ADMIN))],
                  limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  before_version: Annotated[int | None, Query(ge=1, description="page back: older versions")] = None,
                  ) -> AuditList:
    entries = rule_audit.history(db, limit=limit, before_version=before_version)
    return AuditList(items=[AuditPublic(version=e.version, previous_version=e.previous_version, at=e.at,
                                        actor=e.actor, source=e.source, digest=e.digest,
                                        tables_changed=e.tables_changed, summary=e.summary, reason=e.reason)
                            for e in entries])
