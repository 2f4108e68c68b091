"""Item 15: browser security headers on every response; docs and metrics can be closed for production."""

from __future__ import annotations

from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.security_headers import inline_script_hashes
from api.static_console import CONSOLE_DIST
from civicgrid.settings import Settings


def test_every_response_carries_the_security_headers(client: TestClient, as_user) -> None:
    for path, headers in (("/", {"Accept": "text/html"}), ("/cases", as_user("api-operator")), ("/healthz", {}),
                          ("/no/such/route", {})):
        r = client.get(path, headers=headers)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["x-frame-options"] == "DENY", path
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp and "default-src 'self'" in csp, path
    # The console's one inline script is allowed by its hash, not by 'unsafe-inline'.
    csp = client.get("/", headers={"Accept": "text/html"}).headers["content-security-policy"]
    script_src = next(d for d in csp.split("; ") if d.startswith("script-src"))
    assert "'unsafe-inline'" not in script_src
    assert all(h in script_src for h in inline_script_hashes(CONSOLE_DIST / "index.html"))


def test_docs_and_metrics_can_be_closed(api_settings: Settings) -> None:
    closed = api_settings.model_copy(update={"api": api_settings.api.model_copy(
        update={"docs_enabled": False, "metrics_token": SecretStr("m" * 32)})})
    with TestClient(create_app(closed, background=False)) as c:
        assert [c.get(p).status_code for p in ("/docs", "/redoc", "/openapi.json")] == [404, 404, 404]
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/metrics", headers={"Authorization": f"Bearer {'m' * 32}"}).status_code == 200
