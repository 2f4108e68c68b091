"""The console's static files at / : served after every API route, index fallback for page loads only,
and a clear 503 (not a 500 or a bare 404) when the console has not been built."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.static_console import console_app
from civicgrid.settings import Settings


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>console</title>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path / "assets" / "worker-abc.mjs").write_text("self.onmessage = null")
    return tmp_path


def _client(dist: Path) -> TestClient:
    app = create_app(Settings())  # no lifespan: nothing here touches the database
    app.router.default = console_app(dist)
    return TestClient(app)


def test_built_console_is_served_behind_the_api(dist: Path) -> None:
    c = _client(dist)
    index = c.get("/")
    assert index.status_code == 200 and "<title>console</title>" in index.text
    assert index.headers["cache-control"] == "no-cache"
    asset = c.get("/assets/index-abc123.js")
    assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
    assert c.get("/assets/worker-abc.mjs").headers["content-type"].startswith("text/javascript")
    assert c.get("/openapi.json").json()["info"]["title"] == "civicgrid API"
    assert c.get("/docs").status_code == 200


def test_only_a_page_load_falls_back_to_the_index(dist: Path) -> None:
    c = _client(dist)
    assert c.get("/patrol/somewhere", headers={"Accept": "text/html,*/*"}).text.startswith("<!doctype html>")
    # An API client calling a path that does not exist gets a 404 problem, not the console's HTML.
    missing = c.get("/no/such/endpoint", headers={"Accept": "application/json"})
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    assert c.get("/assets/missing.js", headers={"Accept": "text/html"}).status_code == 404


def test_missing_build_says_how_to_build_it(tmp_path: Path) -> None:
    c = _client(tmp_path / "nothing-here")
    r = c.get("/")
    assert r.status_code == 503 and "make setup" in r.text
    assert c.get("/other").status_code == 404
    assert c.get("/openapi.json").status_code == 200
