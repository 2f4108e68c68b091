"""Denied by default: every route declares its roles (api.auth.require) or is deliberately public,
and the public ones are exactly health, metrics, the token endpoint and the Open311 reads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.app import create_app
from civicgrid.settings import Settings

PUBLIC = {
    ("GET", "/healthz"), ("GET", "/metrics"), ("POST", "/auth/token"),
    ("GET", "/open311/discovery.{fmt}"), ("GET", "/open311/v2/discovery.{fmt}"),
    ("GET", "/open311/v2/services.{fmt}"), ("GET", "/open311/v2/services/{service_code}.{fmt}"),
    ("GET", "/open311/v2/requests.{fmt}"), ("GET", "/open311/v2/requests/{service_request_id}.{fmt}"),
}


def _api_routes(routes) -> Iterator[tuple[str, APIRoute]]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route.path, route
        elif hasattr(route, "effective_route_contexts"):  # FastAPI's included routers
            for ctx in route.effective_route_contexts():
                if isinstance(ctx.original_route, APIRoute):
                    yield ctx.path, ctx.original_route


def _calls(dependant: Dependant) -> Iterator[object]:
    for dep in dependant.dependencies:
        yield dep.call
        yield from _calls(dep)


@pytest.fixture(scope="module")
def routes() -> list[tuple[str, str, APIRoute]]:
    app = create_app(Settings())  # the pool is opened by the lifespan only: no database needed here
    return [(method, path, route) for path, route in _api_routes(app.routes) for method in route.methods]


def test_every_route_has_roles_or_is_public(routes: list[tuple[str, str, APIRoute]]) -> None:
    assert len(routes) > 40
    public, unguarded = set(), []
    for method, path, route in routes:
        calls = list(_calls(route.dependant))
        roles = [c for c in calls if getattr(c, "roles", None)]
        is_public = any(getattr(c, "public", False) for c in calls)
        if is_public:
            public.add((method, path))
        if bool(roles) == is_public:
            unguarded.append(f"{method} {path}")
    assert unguarded == []
    assert public == PUBLIC


def test_action_routes_take_their_roles_from_the_permission_table(routes) -> None:
    by_path = {(m, p): r for m, p, r in routes}
    dispatch = by_path["POST", "/cases/{case_id}/dispatch"]
    (roles,) = [c.roles for c in _calls(dispatch.dependant) if getattr(c, "roles", None)]
    assert sorted(roles) == ["admin", "dispatcher"]
