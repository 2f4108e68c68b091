"""Browser security headers on every response: no MIME sniffing, no framing, a Content-Security-Policy.

The policy allows what the operator console needs and nothing else: its own scripts (and the hash
of the one inline script in its index.html, computed from the build), its MapLibre worker (a
same-origin module; blob: for older browsers), inline styles (MapLibre and the charts set them),
images and tiles from itself plus the optional tile server (`api.console_tile_url`), voice notes played from
blob: URLs, and the handheld web app's
MQTT WebSocket (docs/handheld.md). Nothing may
frame the console (clickjacking). The interactive API docs (/docs, /redoc) load Swagger UI and
ReDoc from a CDN and get only the framing and sniffing headers.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS_PATHS = ("/docs", "/redoc")
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def inline_script_hashes(index_html: Path) -> list[str]:
    """CSP source expressions ('sha256-…') of the inline scripts of the console's index.html (none if unbuilt)."""
    try:
        html = index_html.read_bytes()
    except OSError:
        return []
    return [f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
            for body in _INLINE_SCRIPT.findall(html)]


def handheld_mqtt_sources(ws_url: str | None, ws_port: int) -> str:
    """Where the handheld web app opens its MQTT WebSocket (docs/handheld.md): the configured URL's origin, or
    any host on the broker's WebSocket port (the app's own host, which the API cannot know behind a proxy)."""
    if ws_url:
        parts = urlsplit(ws_url)
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return f"ws://*:{ws_port} wss://*:{ws_port}"


def content_security_policy(script_hashes: list[str], tile_url: str | None, mqtt_ws: str = "") -> str:
    tiles = ""
    if tile_url:
        parts = urlsplit(tile_url.replace("{", "").replace("}", ""))
        tiles = f" {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    mqtt = f" {mqtt_ws}" if mqtt_ws else ""
    return "; ".join((
        "default-src 'self'",
        f"script-src 'self' {' '.join(script_hashes)}".rstrip(),
        "style-src 'self' 'unsafe-inline'",
        f"img-src 'self' data: blob:{tiles}",
        "media-src 'self' blob:",  # voice notes played from memory (the handheld's before upload, the console's)
        f"connect-src 'self'{tiles}{mqtt}",
        "worker-src 'self' blob:",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        common = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                  (b"referrer-policy", b"no-referrer")]
        self.strict = [*common, (b"content-security-policy", csp.encode())]
        self.docs = [*common, (b"content-security-policy", b"frame-ancestors 'none'")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.docs if scope["path"].startswith(DOCS_PATHS) else self.strict

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, with_headers)
