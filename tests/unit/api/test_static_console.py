"""The console's static files at / : served after every API route, index fallback for page loads only,
and a clear 503 (not a 500 or a bare 404) when the console has not been built."""

from __future__ import annotations

import gzip
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


def test_assets_go_out_precompressed_when_the_browser_takes_it(dist: Path) -> None:
    """The build writes .br and .gz copies (vite.config.js); a browser gets the one it accepts, as the original."""
    source = "console.log('the map');" * 200
    (dist / "assets" / "map-abc.js").write_text(source)
    (dist / "assets" / "map-abc.js.gz").write_bytes(gzip.compress(source.encode()))
    (dist / "assets" / "map-abc.js.br").write_bytes(b"not really brotli")
    c = _client(dist)
    r = c.get("/assets/map-abc.js", headers={"Accept-Encoding": "gzip, deflate"})
    assert r.headers["content-encoding"] == "gzip" and r.text == source and r.num_bytes_downloaded < len(source) / 10
    assert r.headers["content-type"].startswith("text/javascript") and "immutable" in r.headers["cache-control"]
    assert r.headers["vary"] == "Accept-Encoding"
    br = c.get("/assets/map-abc.js", headers={"Accept-Encoding": "gzip, br"})
    assert br.headers["content-encoding"] == "br" and br.content == b"not really brotli"
    plain = c.get("/assets/map-abc.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == source
    refused = c.get("/assets/map-abc.js", headers={"Accept-Encoding": "br;q=0, gzip;q=0.5"})
    assert refused.headers["content-encoding"] == "gzip"
    # An asset the build did not compress (too small) is sent as it is.
    small = c.get("/assets/index-abc123.js", headers={"Accept-Encoding": "gzip, br"})
    assert "content-encoding" not in small.headers and small.text == "console.log(1)"


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
