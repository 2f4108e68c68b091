"""/departments: the disposal departments (专业部门)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from psycopg.rows import dict_row

from api.auth import ANY_ROLE, require
from api.deps import Db
from api.errors import ApiError
from api.schemas.org import Department, DepartmentIn
from api.users import User

router = APIRouter(prefix="/departments", tags=["departments"])


@router.get("", summary="All departments")
def list_departments(db: Db, user: Annotated[User, Depends(require(*ANY_ROLE))]) -> list[Department]:
    with db.cursor(row_factory=dict_row) as cur:
        return [Department(**r) for r in
                cur.execute("SELECT id, name, name_en, parent_id, centre_id FROM departments ORDER BY id").fetchall()]


@router.put("/{department_id}", summary="Create or rename a department",
            responses={422: {"description": "path and body ids differ, or unknown parent"}})
def put_department(department_id: str, body: DepartmentIn, db: Db,
                   admin: Annotated[User, Depends(require())]) -> Department:
    if body.id != department_id:
        raise ApiError(422, "id-mismatch", f"body id {body.id!r} differs from the path's {department_id!r}")
    if body.parent_id and (body.parent_id == body.id or db.execute(
            "SELECT 1 FROM departments WHERE id = %s", (body.parent_id,)).fetchone() is None):
        raise ApiError(422, "unknown-department", f"unknown parent department {body.parent_id!r}")
    if body.centre_id and db.execute("SELECT 1 FROM centres WHERE id = %s", (body.centre_id,)).fetchone() is None:
        raise ApiError(422, "unknown-centre", f"unknown centre {body.centre_id!r}")
    db.execute("INSERT INTO departments (id, name, name_en, parent_id, centre_id) VALUES (%s, %s, %s, %s, %s) "
               "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, name_en = EXCLUDED.name_en, "
               "parent_id = EXCLUDED.parent_id, centre_id = EXCLUDED.centre_id",
               (body.id, body.name, body.name_en, body.parent_id, body.centre_id))
    return Department(**body.model_dump())
