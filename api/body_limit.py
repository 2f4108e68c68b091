"""Request bodies bounded per route before anything reads them: 413, before authentication work.

FastAPI reads (and spools to disk) a request's body before it runs the route's dependencies, so
an unauthenticated client could make the API store gigabytes only to be told 401. This plain
ASGI middleware answers 413 at once when ``Content-Length`` is over the route's limit, and
otherwise counts the bytes as the app receives them and stops at the limit (a chunked upload
that never says its length), so no route ever sees more than its limit.

Limits: uploads (``/media``) ``api.max_upload_bytes`` plus room for the multipart envelope;
every other route ``api.max_body_bytes``.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPART_ENVELOPE_BYTES = 16 * 1024  # boundaries and part headers around an upload's file


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, default_bytes: int, limits: dict[str, int]) -> None:
        """`limits`: path prefix → the body limit of the routes under it; `default_bytes` for the rest."""
        self.app, self.default_bytes = app, default_bytes
        self.limits = sorted(limits.items(), key=lambda kv: -len(kv[0]))  # the longest prefix wins

    def limit_for(self, path: str) -> int:
        return next((limit for prefix, limit in self.limits if path == prefix or path.startswith(prefix + "/")),
                    self.default_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > limit
            except ValueError:
                await _problem(send, 400, "bad-request", "Content-Length is not a number")
                return
            if too_large:
                await _problem(send, 413, "too-large", f"the request body is over this route's limit of {limit} bytes")
                return
        received, over, started = 0, False, False

        async def counting_receive() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Read no further. The app sees a client that went away; whatever it answers to
                    # that (FastAPI: a 400 "error parsing the body") is replaced by the 413 below.
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await _problem(send, 413, "too-large", f"the request body is over this route's limit of {limit} bytes")


async def _problem(send: Send, status: int, kind: str, detail: str) -> None:
    body = orjson.dumps({"type": f"/problems/{kind}", "title": kind.replace("-", " "), "status": status,
                         "detail": detail})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
