"""/centres: the supervision and command centres on levels (一级监督、两级指挥、三级管理; docs/centres.md).

Every change — a centre added, changed or removed — keeps an audit record (who, when, what before → after, why:
`?reason=`), listed newest first by GET /centres/history (civicgrid/store/centre_audit.py). A centre is removed
only when nothing belongs to it: its child centres, departments, users and cases are named in the refusal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from api.auth import ANY_ROLE, require
from api.deps import Db
from api.errors import ApiError
from api.schemas.org import Centre, CentreIn
from api.users import User
from civicgrid.domain.centres import InvalidCentres
from civicgrid.store import centre_audit
from civicgrid.store.centres import CentreInUse, delete_centre, list_centres, upsert_centres

router = APIRouter(prefix="/centres", tags=["centres"])

Reason = Annotated[str | None, Query(max_length=500, pattern=r"^[^\x00]*$",
                                     description="why: kept on the change's audit record")]
_ID = r"^[^\x00]+$"  # any id a city file may have used, but no NUL (PostgreSQL text cannot hold one)


def _reason(reason: str | None) -> str | None:
    return (reason or "").strip() or None


@router.get("", summary="All centres (empty in a one-centre town: everyone works for the whole city)")
def get_centres(db: Db, user: Annotated[User, Depends(require(*ANY_ROLE))]) -> list[Centre]:
    return [Centre(**row) for row in list_centres(db)]


class CentreAuditPublic(BaseModel):
    id: int
    centre_id: str
    at: datetime
    actor: str
    change: Literal["added", "changed", "removed"]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    summary: str
    reason: str | None


class CentreAuditList(BaseModel):
    items: list[CentreAuditPublic]


@router.get("/history", summary="Who added, changed or removed a centre, when, what before → after and why; "
                                "newest first")
def centres_history(db: Db, admin: Annotated[User, Depends(require())],
                    centre_id: Annotated[str | None, Query(max_length=100, pattern=_ID,
                                                           description="one centre's records")] = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50,
                    before_id: Annotated[int | None, Query(ge=1, description="page back: older records")] = None,
                    ) -> CentreAuditList:
    entries = centre_audit.history(db, centre_id=centre_id, limit=limit, before_id=before_id)
    return CentreAuditList(items=[CentreAuditPublic(id=e.id, centre_id=e.centre_id, at=e.at, actor=e.actor,
                                                    change=e.change, before=e.before, after=e.after,
                                                    summary=e.summary, reason=e.reason) for e in entries])


@router.put("/{centre_id}", summary="Create or change a centre; the whole tree is checked again (a prefix outside "
                                    "its parent's, or a second top, is refused with the centre named)",
            responses={422: {"description": "path and body ids differ, or the centres would not form a tree"}})
def put_centre(centre_id: str, body: CentreIn, db: Db, admin: Annotated[User, Depends(require())],
               reason: Reason = None) -> Centre:
    if body.id != centre_id:
        raise ApiError(422, "id-mismatch", f"body id {body.id!r} differs from the path's {centre_id!r}")
    try:
        upsert_centres(db, [body.model_dump(mode="json")], actor=f"api:{admin.username}", reason=_reason(reason))
    except InvalidCentres as exc:
        raise ApiError(422, "bad-centres", str(exc)) from None
    return Centre(**body.model_dump())


@router.delete("/{centre_id}", summary="Remove a centre that nothing belongs to any more (child centres, "
                                       "departments, users, cases are named in the refusal)",
               responses={404: {"description": "no such centre"},
                          409: {"description": "something still belongs to it; the words name what"}})
def remove_centre(centre_id: Annotated[str, Path(min_length=1, max_length=100, pattern=_ID)], db: Db,
                  admin: Annotated[User, Depends(require())],
                  reason: Reason = None) -> dict[str, str]:
    try:
        removed = delete_centre(db, centre_id, actor=f"api:{admin.username}", reason=_reason(reason))
    except CentreInUse as exc:
        raise ApiError(409, "centre-in-use", str(exc)) from None
    if not removed:
        raise ApiError(404, "not-found", f"no centre {centre_id!r}")
    return {"removed": centre_id}
