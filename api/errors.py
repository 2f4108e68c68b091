"""Errors → HTTP, once: RFC 9457 ``application/problem+json`` with a stable ``type`` and a clear ``detail``.

Routes raise domain errors (civicgrid.domain), the case service's refusals and store errors
(civicgrid/cases/errors.py: CaseRefused, CaseNotFound, CaseChanged) or `ApiError`; nothing
else in the API builds an error response. Lifecycle errors carry
what the client needs to recover: the allowed actions (409) or roles (403).
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.open311.formats import error_response
from civicgrid.cases.errors import CaseChanged, CaseNotFound, CaseRefused
from civicgrid.domain.case_state import IllegalTransition, MissingTransitionData, PreconditionFailed, RoleNotAllowed
from civicgrid.domain.errors import DomainError
from civicgrid.store.devices import DeviceExists, DeviceNotFound

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
TYPE_BASE = "https://civicgrid.dev/problems/"


class ApiError(Exception):
    """An error the API itself decides (not found in your scope, bad credentials, too large…)."""

    def __init__(self, status: int, kind: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail, self.extra = status, kind, detail, extra


class Open311Failure(Exception):
    """An error on the Open311 routes: answered as the spec's ``[{"code", "description"}]`` array."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


OPEN311_PREFIX = "/open311/"


def open311_error(status: int, description: str, request: Request) -> Response:
    """The spec's error array, in the format of the request's path (``.xml`` or ``.json``; api/open311/)."""
    return error_response(request.url.path, status, description)


def not_found(what: str, ident: object) -> ApiError:
    return ApiError(404, "not-found", f"no {what} {ident} (or not in your scope)")


def forbidden(detail: str) -> ApiError:
    return ApiError(403, "forbidden", detail)


def problem(status: int, kind: str, title: str, detail: str, instance: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {"type": TYPE_BASE + kind, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


_TITLES = {400: "Bad request", 401: "Not authenticated", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
           409: "Conflict", 413: "Content too large", 415: "Unsupported media type", 422: "Invalid request",
           500: "Internal error", 503: "Unavailable"}


def _title(status: int) -> str:
    return _TITLES.get(status, "Error")


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        if request.url.path.startswith(OPEN311_PREFIX):
            return open311_error(exc.status, exc.detail, request)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if exc.status == 429 and "retry_after_s" in exc.extra:
            headers = {"Retry-After": str(exc.extra["retry_after_s"])}
        return problem(exc.status, exc.kind, _title(exc.status), exc.detail, request.url.path, headers, **exc.extra)

    @app.exception_handler(Open311Failure)
    async def open311(request: Request, exc: Open311Failure) -> Response:
        return open311_error(exc.status, exc.description, request)

    @app.exception_handler(IllegalTransition)
    async def illegal(request: Request, exc: IllegalTransition) -> JSONResponse:
        return problem(409, "illegal-transition", "Action not possible in this state", str(exc), request.url.path,
                       state=exc.state and exc.state.value, action=str(exc.action),
                       allowed_actions=[a.value for a in exc.allowed])

    @app.exception_handler(RoleNotAllowed)
    async def role(request: Request, exc: RoleNotAllowed) -> JSONResponse:
        return problem(403, "role-not-allowed", "Role may not take this action", str(exc), request.url.path,
                       allowed_roles=list(exc.allowed))

    @app.exception_handler(PreconditionFailed)
    async def precondition(request: Request, exc: PreconditionFailed) -> JSONResponse:
        return problem(409, "precondition-failed", "Action not possible for this case", str(exc), request.url.path,
                       state=exc.state.value, action=exc.action.value)

    @app.exception_handler(MissingTransitionData)
    async def missing(request: Request, exc: MissingTransitionData) -> JSONResponse:
        return problem(422, "missing-data", "Action needs more data", str(exc), request.url.path,
                       missing=list(exc.missing))

    @app.exception_handler(CaseRefused)
    async def case_refused(request: Request, exc: CaseRefused) -> Response:
        if request.url.path.startswith(OPEN311_PREFIX):
            return open311_error(400, exc.detail, request)
        return problem(422, exc.kind, _title(422), exc.detail, request.url.path)

    @app.exception_handler(DomainError)
    async def domain(request: Request, exc: DomainError) -> Response:
        if request.url.path.startswith(OPEN311_PREFIX):
            return open311_error(400, str(exc), request)
        return problem(422, "domain-rule", "Request breaks a domain rule", str(exc), request.url.path)

    @app.exception_handler(CaseNotFound)
    async def case_missing(request: Request, exc: CaseNotFound) -> JSONResponse:
        return problem(404, "not-found", "Not found", f"no case {exc.case_id} (or not in your scope)",
                       request.url.path)

    @app.exception_handler(CaseChanged)
    async def changed(request: Request, exc: CaseChanged) -> JSONResponse:
        return problem(409, "case-changed", "Case changed concurrently", str(exc), request.url.path)

    @app.exception_handler(DeviceNotFound)
    async def device_missing(request: Request, exc: DeviceNotFound) -> JSONResponse:
        return problem(404, "not-found", "Not found", str(exc), request.url.path)

    @app.exception_handler(DeviceExists)
    async def device_exists(request: Request, exc: DeviceExists) -> JSONResponse:
        return problem(409, "already-exists", "Already exists", str(exc), request.url.path)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        detail = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
        if request.url.path.startswith(OPEN311_PREFIX):  # existing Open311 clients expect the spec's shape
            return open311_error(400, detail, request)
        return problem(422, "validation", "Invalid request", detail, request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if request.url.path.startswith(OPEN311_PREFIX):  # no such path or method: still the spec's array
            return open311_error(exc.status_code, f"{detail}: {request.method} {request.url.path}", request)
        return problem(exc.status_code, "http-" + str(exc.status_code), _title(exc.status_code), detail,
                       request.url.path, dict(exc.headers) if exc.headers else None)

    @app.exception_handler(psycopg.DataError)
    async def bad_value(request: Request, exc: psycopg.DataError) -> Response:
        """A value PostgreSQL cannot take (a NUL byte in text, which psycopg refuses before sending; a number out
        of range): the caller's input, so 400, never a 500."""
        detail = f"a value the database cannot store: {str(exc).splitlines()[0][:200]}"
        if request.url.path.startswith(OPEN311_PREFIX):
            return open311_error(400, detail, request)
        return problem(400, "invalid-value", _title(400), detail, request.url.path)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if request.url.path.startswith(OPEN311_PREFIX):
            return open311_error(500, "an unexpected error occurred; it has been logged", request)
        return problem(500, "internal", "Internal error", "an unexpected error occurred; it has been logged",
                       request.url.path)
