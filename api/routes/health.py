"""/healthz (database reachable) and /metrics (Prometheus text format; behind `api.metrics_token` when set)."""

from __future__ import annotations

import hmac

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict

from api.auth import Public
from api.deps import Ctx
from api.errors import ApiError

router = APIRouter(tags=["health"])


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok", "database": "ok"}]})

    status: str
    database: str


@router.get("/healthz", dependencies=[Public], summary="Liveness and database reachability",
            responses={503: {"model": Health, "description": "database unreachable"}})
def healthz(ctx: Ctx) -> Health:
    try:
        with ctx.pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")
    except (psycopg.Error, TimeoutError) as exc:
        body = Health(status="degraded", database=f"error: {type(exc).__name__}")
        return JSONResponse(body.model_dump(), status_code=503)  # type: ignore[return-value]
    return Health(status="ok", database="ok")


@router.get("/metrics", dependencies=[Public], summary="Prometheus metrics (Bearer api.metrics_token when set)",
            response_class=Response,
            responses={200: {"content": {"text/plain": {"example": "civicgrid_api_requests_total{...} 3.0"}}},
                       401: {"description": "api.metrics_token is set and was not sent"}})
def metrics(request: Request, ctx: Ctx) -> Response:
    token = ctx.settings.api.metrics_token
    if token is not None:
        sent = request.headers.get("authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token.get_secret_value()}".encode()):
            raise ApiError(401, "unauthorized", "send the metrics token as `Authorization: Bearer …`")
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
