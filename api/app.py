"""The FastAPI application: start-up order, routers, error handlers, metrics.

`create_app(settings)` builds everything from the settings (no module-level state) and, from
its caller, the broker whose account files device registration keeps in step (`broker`);
the lifespan opens the connection pool, then starts the background loops, and stops
them in reverse.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.background import Background
from api.body_limit import MULTIPART_ENVELOPE_BYTES, BodyLimitMiddleware
from api.deps import ApiContext
from api.metrics import ApiMetrics, MetricsMiddleware
from api.routes import (
    alarms,
    auth,
    basedata,
    cameras,
    cases,
    centres,
    departments,
    devices,
    duplicates,
    feed,
    geocoding,
    handheld,
    health,
    intake,
    map,
    media,
    notifications,
    open311,
    patrol,
    responsibility,
    rules,
    scoring,
    sources,
    statistics,
    step_deadlines,
    users,
)
from api.security_headers import (
    SecurityHeadersMiddleware,
    content_security_policy,
    handheld_mqtt_sources,
    inline_script_hashes,
)
from api.static_console import CONSOLE_DIST, console_app
from civicgrid.broker.sync import BrokerFiles
from civicgrid.settings import Settings
from civicgrid.statistics.schedule import schedule_from_settings

log = logging.getLogger(__name__)

DESCRIPTION = """Digital city management (数字城管) API: the case workflow with roles, dispatch by
responsibility, Open311 GeoReport v2 intake (12319), media, devices and commands, the live
alarm and case-event feed, patrol coverage and CJ/T 292 evaluation.

Authenticate with `POST /auth/token` (OAuth2 password flow) and send `Authorization: Bearer …`,
or send an API key as `X-Api-Key`. Errors are RFC 9457 `application/problem+json`
(Open311 routes answer in the GeoReport error format)."""


def create_app(settings: Settings, *, background: bool = True, broker: BrokerFiles | None = None) -> FastAPI:
    ctx = ApiContext.create(settings, broker=broker)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx.pool.open(wait=True, timeout=30)
        with ctx.pool.connection() as conn:  # version 1, and `rules_dir` stored as a version when it differs
            ctx.book.start(conn)
        loops = Background(settings, lambda: ctx.producer, metrics=app.state.metrics) if background else None
        if loops is not None:
            loops.start()
        # Scheduled publications (docs/statistics.md): a thread of its own, off with statistics.schedule = false.
        publications = schedule_from_settings(settings, ctx.clock.now) if background else None
        if publications is not None:
            publications.start()
        log.info("civicgrid API ready")
        try:
            yield
        finally:
            await ctx.feed_hub.close()
            if publications is not None:
                publications.stop()
            if loops is not None:
                loops.stop()
            ctx.close()

    docs = settings.api.docs_enabled  # production: off, or behind a proxy that authenticates (docs/security.md)
    app = FastAPI(title="civicgrid API", version="1.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url="/docs" if docs else None, redoc_url="/redoc" if docs else None,
                  openapi_url="/openapi.json" if docs else None)
    app.state.ctx = ctx
    app.state.metrics = ApiMetrics()
    # Bodies bounded before anything reads them (api/body_limit.py); the metrics (outermost) count the 413s.
    app.add_middleware(BodyLimitMiddleware, default_bytes=settings.api.max_body_bytes,
                       limits={"/media": settings.api.max_upload_bytes + MULTIPART_ENVELOPE_BYTES,
                               "/basedata/components/import": settings.api.max_import_bytes,
                               "/basedata/addresses/import": settings.api.max_import_bytes})
    app.add_middleware(SecurityHeadersMiddleware, csp=content_security_policy(
        inline_script_hashes(CONSOLE_DIST / "index.html"), settings.api.console_tile_url,
        mqtt_ws=handheld_mqtt_sources(settings.mqtt.ws_url, settings.mqtt.ws_port)))
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    errors.install(app)
    for router in (health.router, auth.router, users.router, centres.router, departments.router,
                   responsibility.router, cases.build_router(ctx.book.known.permissions), open311.router, media.router,
                   devices.router, feed.router, scoring.router, alarms.router, map.router, cameras.router,
                   patrol.router, rules.router, geocoding.router, open311.discovery_router, duplicates.router,
                   statistics.router, notifications.router, step_deadlines.router, sources.router, intake.router,
                   basedata.router, handheld.router):
        app.include_router(router)
    # The operator console's static files answer whatever no route matches, so every API route
    # (including ones registered after this line) keeps precedence.
    app.router.default = console_app()
    return app
