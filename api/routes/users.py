"""/users and /api-keys: accounts (admin only). The first admin comes from `civicgrid users add`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from psycopg.rows import dict_row

from api.auth import new_api_key, require
from api.deps import Db
from api.errors import ApiError
from api.schemas.auth import ApiKeyCreate, ApiKeyCreated, UserCreate, UserCreated, UserPublic
from api.users import USER_COLUMNS, User, UserError, create_user

router = APIRouter(tags=["users"])
Admin = Annotated[User, Depends(require())]


@router.post("/users", status_code=201, summary="Create a user (password generated when omitted)",
             responses={422: {"description": "bad role, unknown department or grid, duplicate name"}})
def add_user(body: UserCreate, db: Db, admin: Admin) -> UserCreated:
    try:
        user, password = create_user(db, body.username, body.role, department_id=body.department_id,
                                     responsibility_grid_id=body.responsibility_grid_id,
                                     display_name=body.display_name, password=body.password)
    except UserError as exc:
        raise ApiError(422, "bad-user", str(exc)) from None
    return UserCreated(id=user.id, username=user.username, role=user.role, department_id=user.department_id,
                       responsibility_grid_id=user.responsibility_grid_id, display_name=user.display_name,
                       password=password)


@router.get("/users", summary="All users")
def list_users(db: Db, admin: Admin) -> list[UserPublic]:
    with db.cursor(row_factory=dict_row) as cur:
        return [UserPublic(**r) for r in cur.execute(f"SELECT {USER_COLUMNS} FROM users ORDER BY id").fetchall()]


@router.post("/api-keys", status_code=201, summary="A long-lived API key acting as a user (integrations, Open311)",
             responses={422: {"description": "unknown user"}})
def add_api_key(body: ApiKeyCreate, db: Db, admin: Admin) -> ApiKeyCreated:
    if db.execute("SELECT 1 FROM users WHERE id = %s", (body.user_id,)).fetchone() is None:
        raise ApiError(422, "unknown-user", f"no user {body.user_id}")
    return ApiKeyCreated(api_key=new_api_key(db, body.user_id, body.name), user_id=body.user_id, name=body.name)
