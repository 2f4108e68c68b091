"""/users and /api-keys: accounts (admin only). The first admin comes from `civicgrid users add`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from psycopg.rows import dict_row

from api.api_keys import expiry, list_api_keys, new_api_key, revoke_api_key
from api.auth import require
from api.deps import Db
from api.errors import ApiError, not_found
from api.schemas.auth import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    PasswordChanged,
    PasswordSet,
    UserCreate,
    UserCreated,
    UserPublic,
    UserUpdate,
)
from api.users import USER_COLUMNS, User, UserError, create_user, set_password, set_user_enabled

router = APIRouter(tags=["users"])
Admin = Annotated[User, Depends(require())]


@router.post("/users", status_code=201, summary="Create a user (password generated when omitted)",
             responses={422: {"description": "bad role, unknown department or grid, duplicate name"}})
def add_user(body: UserCreate, db: Db, admin: Admin) -> UserCreated:
    try:
        user, password = create_user(db, body.username, body.role, department_id=body.department_id,
                                     responsibility_grid_id=body.responsibility_grid_id,
                                     display_name=body.display_name, password=body.password,
                                     centre_id=body.centre_id)
    except UserError as exc:
        raise ApiError(422, "bad-user", str(exc)) from None
    return UserCreated(id=user.id, username=user.username, role=user.role, department_id=user.department_id,
                       responsibility_grid_id=user.responsibility_grid_id, display_name=user.display_name,
                       centre_id=user.centre_id, password=password)


@router.get("/users", summary="All users")
def list_users(db: Db, admin: Admin) -> list[UserPublic]:
    with db.cursor(row_factory=dict_row) as cur:
        return [UserPublic(**r) for r in cur.execute(f"SELECT {USER_COLUMNS} FROM users ORDER BY id").fetchall()]


@router.patch("/users/{user_id}", summary="Disable or enable a user: a disabled user's tokens, keys and live feeds "
                                          "stop working at once", responses={404: {"description": "no such user"}})
def update_user(user_id: Annotated[int, PathParam(ge=1, le=2**62)], body: UserUpdate, db: Db, admin: Admin,
                ) -> UserPublic:
    if user_id == admin.id and not body.enabled:
        raise ApiError(409, "self-disable", "an admin cannot disable their own account")
    if not set_user_enabled(db, user_id, body.enabled):
        raise not_found("user", user_id)
    with db.cursor(row_factory=dict_row) as cur:
        return UserPublic(**cur.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s", (user_id,)).fetchone())


@router.post("/users/{user_id}/password", summary="Set a user's password (generated and shown once when omitted)",
             responses={404: {"description": "no such user"}, 422: {"description": "password too short"}})
def set_user_password(user_id: Annotated[int, PathParam(ge=1, le=2**62)], body: PasswordSet, db: Db,
                      admin: Admin) -> PasswordChanged:
    try:
        password = set_password(db, user_id, body.password)
    except UserError as exc:
        raise ApiError(422, "bad-password", str(exc)) from None
    if password is None:
        raise not_found("user", user_id)
    row = db.execute("SELECT username FROM users WHERE id = %s", (user_id,)).fetchone()
    return PasswordChanged(id=user_id, username=row[0] if row else "", password=None if body.password else password)


@router.post("/api-keys", status_code=201, summary="An API key for an integration (Open311 intake by default)",
             responses={422: {"description": "unknown user"}})
def add_api_key(body: ApiKeyCreate, db: Db, admin: Admin) -> ApiKeyCreated:
    if db.execute("SELECT 1 FROM users WHERE id = %s", (body.user_id,)).fetchone() is None:
        raise ApiError(422, "unknown-user", f"no user {body.user_id}")
    scopes = tuple(dict.fromkeys(body.scopes))
    expires_at = expiry(body.expires_in_days, datetime.now(UTC))
    key_id, key = new_api_key(db, body.user_id, body.name, scopes, expires_at)
    return ApiKeyCreated(id=key_id, api_key=key, user_id=body.user_id, name=body.name, scopes=list(scopes),
                         expires_at=expires_at)


@router.get("/api-keys", summary="Every API key (never the key itself): scopes, expiry, revocation, last use")
def get_api_keys(db: Db, admin: Admin) -> list[ApiKeyPublic]:
    return [ApiKeyPublic(**row) for row in list_api_keys(db)]


@router.post("/api-keys/{key_id}/revoke", summary="Revoke an API key at once",
             responses={404: {"description": "no such key"}})
def revoke_key(key_id: Annotated[int, PathParam(ge=1, le=2**62)], db: Db, admin: Admin) -> ApiKeyPublic:
    if not revoke_api_key(db, key_id):
        raise not_found("API key", key_id)
    return next(ApiKeyPublic(**row) for row in list_api_keys(db) if row["id"] == key_id)
