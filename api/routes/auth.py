"""/auth: the OAuth2 password flow (form fields username, password) → a signed JWT; who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from api.auth import ANY_ROLE, Public, issue_token, require
from api.deps import Ctx, Db
from api.errors import ApiError
from api.login_throttle import Throttled
from api.schemas.auth import Token, UserPublic
from api.users import User, authenticate

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", dependencies=[Public], summary="OAuth2 password flow: username + password → access token",
             responses={401: {"description": "wrong username or password"},
                        429: {"description": "too many failed logins for this user name or address (Retry-After)"}})
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, ctx: Ctx, db: Db) -> Token:
    throttle, address = ctx.login_throttle, request.client.host if request.client else "unknown"
    try:  # checked before any hashing (api/login_throttle.py)
        throttle.check(form.username, address)
        with throttle.hashing():
            user = authenticate(db, form.username, form.password)
    except Throttled as exc:
        raise ApiError(429, "too-many-attempts", exc.reason, retry_after_s=exc.retry_after_s) from None
    if user is None:
        throttle.failed(form.username, address)
        raise ApiError(401, "unauthorized", "wrong username or password")
    throttle.succeeded(form.username)
    ttl = ctx.settings.api.token_ttl_s
    return Token(access_token=issue_token(ctx.settings.api.jwt_secret.get_secret_value(), user, ttl), expires_in=ttl)


@router.get("/me", summary="The caller and their scope")
def me(user: Annotated[User, Depends(require(*ANY_ROLE))]) -> UserPublic:
    return UserPublic(id=user.id, username=user.username, role=user.role, department_id=user.department_id,
                      responsibility_grid_id=user.responsibility_grid_id, display_name=user.display_name)
