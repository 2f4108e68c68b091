"""The operator console's static files (built from ``api/console/`` by ``make setup``), served at ``/``.

Mounted after every API router, so an API path always wins over a file of the same name.
A page load (``Accept: text/html``) of a path without a file extension that matches nothing
falls back to ``index.html`` (the console routes in the URL fragment, but a bookmarked deep
path should still open it). Hashed assets
are cached for good; ``index.html`` never is, so a rebuilt console is picked up at once.
When the build is missing, ``/`` answers 503 in words instead of a bare 404.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

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


class ConsoleFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
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
