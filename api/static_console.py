"""The operator console's static files (built from ``api/console/`` by ``make setup``), served at ``/``.

Mounted after every API router, so an API path always wins over a file of the same name.
A page load (``Accept: text/html``) of a path without a file extension that matches nothing
falls back to ``index.html`` (the console routes in the URL fragment, but a bookmarked deep
path should still open it). Hashed assets
are cached for good; ``index.html`` never is, so a rebuilt console is picked up at once.
An asset the build also wrote compressed (``x.js.br``, ``x.js.gz``: vite.config.js) is sent compressed to a
browser that accepts it: compressed once at build time, not on each request (MapLibre is 1 MB, 0.3 MB as gzip).
When the build is missing, ``/`` answers 503 in words instead of a bare 404.
"""

from __future__ import annotations

import mimetypes
import stat
from pathlib import Path

import anyio
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

# MapLibre's worker is an ES module (.mjs): browsers refuse it without a JavaScript type, and not
# every system's mime.types lists the extension.
mimetypes.add_type("text/javascript", ".mjs")

CONSOLE_DIST = Path(__file__).resolve().parent / "console" / "dist"
MISSING = ("The operator console has not been built: run `make setup` (it runs `npm ci && npm run build` "
           "in api/console). The API itself works; see /docs.\n")


# Preferred first: brotli is about a fifth smaller than gzip on the console's JavaScript.
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))


def _accepted(scope: Scope) -> set[str]:
    """The codings of Accept-Encoding, less those refused with q=0."""
    header = dict(scope.get("headers") or ()).get(b"accept-encoding", b"").decode("latin-1")
    accepted = set()
    for part in header.split(","):
        name, *params = (p.strip() for p in part.split(";"))
        q = next((v for k, _, v in (p.partition("=") for p in params) if k == "q"), "1")
        try:
            if float(q) > 0:
                accepted.add(name.lower())
        except ValueError:
            continue
    return accepted


class ConsoleFiles(StaticFiles):
    async def _precompressed(self, path: str, scope: Scope) -> Response | None:
        """The build's compressed copy of an asset, if there is one the browser accepts."""
        accepted = _accepted(scope)
        for encoding, suffix in ENCODINGS:
            if encoding not in accepted:
                continue
            full_path, found = await anyio.to_thread.run_sync(self.lookup_path, path + suffix)
            if found is not None and stat.S_ISREG(found.st_mode):
                response = self.file_response(full_path, found, scope)
                response.headers["Content-Type"] = mimetypes.guess_type(path)[0] or "application/octet-stream"
                response.headers["Content-Encoding"] = encoding
                response.headers["Vary"] = "Accept-Encoding"
                return response
        return None

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path.startswith("assets/") and scope["method"] in ("GET", "HEAD"):
            compressed = await self._precompressed(path, scope)
            if compressed is not None:
                compressed.headers["Cache-Control"] = "public, max-age=31536000, immutable"
                return compressed
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            accept = dict(scope.get("headers") or ()).get(b"accept", b"")
            # Only a browser's page load falls back to the console; an API client calling a path
            # that does not exist (yet) gets the 404 it should see, not index.html.
            if exc.status_code != 404 or "." in Path(path).name or b"text/html" not in accept:
                raise
            response = await super().get_response("index.html", scope)
        if path.startswith("assets/"):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        else:
            response.headers["Cache-Control"] = "no-cache"
        return response


async def _missing(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] not in ("/", "/index.html"):
        raise HTTPException(404)
    await PlainTextResponse(MISSING, status_code=503)(scope, receive, send)


def console_app(dist: Path = CONSOLE_DIST):
    """The ASGI app to mount at ``/``: the built console, or a 503 saying how to build it."""
    if (dist / "index.html").is_file():
        return ConsoleFiles(directory=dist, html=True)
    return _missing
