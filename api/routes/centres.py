"""/centres: the supervision and command centres on levels (一级监督、两级指挥、三级管理; docs/centres.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.auth import ANY_ROLE, require
from api.deps import Db
from api.errors import ApiError
from api.schemas.org import Centre, CentreIn
from api.users import User
from civicgrid.domain.centres import InvalidCentres
from civicgrid.store.centres import list_centres, upsert_centres

router = APIRouter(prefix="/centres", tags=["centres"])


@router.get("", summary="All centres (empty in a one-centre town: everyone works for the whole city)")
def get_centres(db: Db, user: Annotated[User, Depends(require(*ANY_ROLE))]) -> list[Centre]:
    return [Centre(**row) for row in list_centres(db)]


@router.put("/{centre_id}", summary="Create or change a centre; the whole tree is checked again (a prefix outside "
                                    "its parent's, or a second top, is refused with the centre named)",
            responses={422: {"description": "path and body ids differ, or the centres would not form a tree"}})
def put_centre(centre_id: str, body: CentreIn, db: Db, admin: Annotated[User, Depends(require())]) -> Centre:
    if body.id != centre_id:
        raise ApiError(422, "id-mismatch", f"body id {body.id!r} differs from the path's {centre_id!r}")
    try:
        upsert_centres(db, [body.model_dump(mode="json")])
    except InvalidCentres as exc:
        raise ApiError(422, "bad-centres", str(exc)) from None
    return Centre(**body.model_dump())
