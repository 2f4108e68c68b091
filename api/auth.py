"""Authentication (OAuth2 password flow → signed JWT) and the role dependencies every route declares.

Denied by default: a route either depends on `require(...)` (which names its roles and
authenticates) or on `public` (health, metrics, token, Open311 reads). A test walks
``app.routes`` and checks that each has exactly one of the two. Admin passes every role
check. Scope (a department sees only its cases, an inspector its grid) is applied by the
queries, from the `User` these dependencies return.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
import psycopg
from fastapi import Depends
from fastapi.security import APIKeyHeader, HTTPBasic, HTTPBasicCredentials, OAuth2PasswordBearer

from api.api_keys import PREFIX as API_KEY_PREFIX
from api.api_keys import Scope, caller_for_api_key
from api.deps import ApiContext, Ctx, Db
from api.errors import ApiError, forbidden
from api.users import User, get_user
from civicgrid.broker.accounts import verify_secret
from civicgrid.domain.case_state import Action, Role

ALGORITHM = "HS256"
oauth2 = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)
api_key_header = APIKeyHeader(name="X-Api-Key", auto_error=False,
                              description="API key (integrations) instead of a token")


def issue_token(ctx_secret: str, user: User, ttl_s: int, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    claims = {"sub": str(user.id), "name": user.username, "role": user.role.value, "iat": now,
              "exp": now + timedelta(seconds=ttl_s)}
    return jwt.encode(claims, ctx_secret, algorithm=ALGORITHM)


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, "unauthorized", detail)


def user_for_credentials(ctx: Ctx, db: Db, token: str | None, api_key: str | None, *,
                         scope: Scope = "api") -> User:
    """The caller from a Bearer JWT or an API key (which must carry `scope`); 401 when neither is valid."""
    if api_key:
        caller = caller_for_api_key(db, api_key)
        if caller is None:
            raise _unauthorized("unknown, revoked or expired API key (or its user is disabled)")
        user, scopes = caller
        if scope not in scopes:
            raise forbidden(f"this API key's scopes ({', '.join(sorted(scopes))}) do not include {scope!r}")
        return user
    if not token:
        raise _unauthorized("send a Bearer token (POST /auth/token) or an X-Api-Key header")
    if token.startswith(API_KEY_PREFIX):
        return user_for_credentials(ctx, db, None, token, scope=scope)
    try:
        claims = jwt.decode(token, ctx.settings.api.jwt_secret.get_secret_value(), algorithms=[ALGORITHM],
                            options={"require": ["exp", "sub", "iat"]})
        user_id, issued_at = int(claims["sub"]), datetime.fromtimestamp(int(claims["iat"]), UTC)
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise _unauthorized(f"invalid token: {exc}") from None
    user = get_user(db, user_id, token_issued_at=issued_at)
    if user is None:
        raise _unauthorized("the token's user no longer exists, is disabled, or changed their password since the "
                            "token was issued: log in again")
    return user


def current_user(ctx: Ctx, db: Db, token: Annotated[str | None, Depends(oauth2)] = None,
                 x_api_key: Annotated[str | None, Depends(api_key_header)] = None) -> User:
    return user_for_credentials(ctx, db, token, x_api_key)


def require(*roles: Role) -> Callable[..., User]:
    """Dependency: the authenticated caller, if their role is one of `roles` (admin always is)."""
    allowed = frozenset(roles) | {Role.ADMIN}

    def dependency(user: Annotated[User, Depends(current_user)]) -> User:
        return _in_role(user, allowed)

    return _declared(dependency, "require_", allowed)


def require_current(action: Action, declared: Iterable[Role]) -> Callable[..., User]:
    """Like `require`, with the roles of a case action read from the current permission table at each request, so
    a rule pack loaded without restart applies at once (docs/rules.md). The roles of the table at start-up are
    declared, for the OpenAPI text and the every-route-has-a-role test."""

    def dependency(user: Annotated[User, Depends(current_user)], ctx: Ctx, db: Db) -> User:
        _, rules = ctx.book.current(db)
        return _in_role(user, frozenset(rules.permissions.roles_for(action)) | {Role.ADMIN})

    return _declared(dependency, "require_", frozenset(declared) | {Role.ADMIN})


def _in_role(user: User, allowed: frozenset[Role]) -> User:
    if user.role not in allowed:
        raise forbidden(f"role {user.role.value!r} may not do this; roles allowed: "
                        f"{', '.join(sorted(r.value for r in allowed))}")
    return user


def _declared(dependency: Callable[..., User], prefix: str, allowed: frozenset[Role]) -> Callable[..., User]:
    dependency.roles = allowed  # type: ignore[attr-defined]  # read by the every-route-has-a-role test
    dependency.__name__ = prefix + "_".join(sorted(r.value for r in allowed))
    return dependency


ANY_ROLE = tuple(Role)

http_basic = HTTPBasic(auto_error=False, description="a handheld's device id and MQTT secret (uploads only)")


def handheld_inspector(db: psycopg.Connection, device_id: str, secret: str) -> User:
    """The inspector a handheld (城管通) belongs to, if the device id and secret are right.

    Handhelds upload photos over HTTP with the same credentials they use on MQTT (docs/architecture.md:
    photos travel by HTTP, referenced by id in the report); the upload counts as their inspector's.
    """
    row = db.execute("SELECT secret_hash, kind, enabled, inspector_user_id FROM devices WHERE id = %s",
                     (device_id,)).fetchone()
    if row is None or not verify_secret(secret, row[0]) or not row[2]:
        raise _unauthorized("unknown device, wrong secret or disabled device")
    if row[1] != "handheld" or row[3] is None:
        raise forbidden(f"device {device_id} is not a handheld linked to an inspector")
    user = get_user(db, row[3])
    if user is None:
        raise forbidden(f"the inspector of {device_id} is disabled")
    return user


@dataclass(frozen=True, slots=True)
class HandheldDevice:
    """A handheld authenticated by its own credentials, never by its inspector's login: what it reads is its own
    (the photos of the tasks sent to it)."""

    device_id: str
    inspector: User


def handheld_device(db: Db, device: Annotated[HTTPBasicCredentials | None, Depends(http_basic)] = None) \
        -> HandheldDevice:
    """Dependency: the calling handheld (HTTP Basic: device id and secret); 401 without them."""
    if device is None:
        raise _unauthorized("send the handheld's device id and secret (HTTP Basic)")
    return HandheldDevice(device.username, handheld_inspector(db, device.username, device.password))


handheld_device.roles = frozenset({Role.INSPECTOR})  # type: ignore[attr-defined]  # its inspector's, no other


def require_or_handheld(*roles: Role, brief: bool = False) -> Callable[..., User]:
    """Like `require`, and a handheld may authenticate with HTTP Basic (device id, secret) as its inspector.

    `brief`: borrow a pooled connection for the check alone, for a route that works long without the
    database (an upload's image checks) and must not hold a connection meanwhile."""
    allowed = frozenset(roles) | {Role.ADMIN}

    def caller(ctx: ApiContext, db: psycopg.Connection, token: str | None, x_api_key: str | None,
               device: HTTPBasicCredentials | None) -> User:
        if device is not None and not token and not x_api_key:
            return _in_role(handheld_inspector(db, device.username, device.password), allowed)
        return _in_role(user_for_credentials(ctx, db, token, x_api_key), allowed)

    def dependency(ctx: Ctx, db: Db, token: Annotated[str | None, Depends(oauth2)] = None,
                   x_api_key: Annotated[str | None, Depends(api_key_header)] = None,
                   device: Annotated[HTTPBasicCredentials | None, Depends(http_basic)] = None) -> User:
        return caller(ctx, db, token, x_api_key, device)

    def brief_dependency(ctx: Ctx, token: Annotated[str | None, Depends(oauth2)] = None,
                         x_api_key: Annotated[str | None, Depends(api_key_header)] = None,
                         device: Annotated[HTTPBasicCredentials | None, Depends(http_basic)] = None) -> User:
        with ctx.pool.connection() as db:
            return caller(ctx, db, token, x_api_key, device)

    return _declared(brief_dependency if brief else dependency, "require_or_handheld_", allowed)


def public() -> None:
    """Marks a route as deliberately open (no authentication)."""


public.public = True  # type: ignore[attr-defined]

Public = Depends(public)
