"""/feed: Server-Sent Events with new alarms and case events, in the caller's scope, resumable.

Fed from the database (``feed_events``, filled by triggers on ``alarms`` and
``case_events``) rather than Kafka: the database is where every writer (API, streams)
already commits, the rows carry the scope columns (department, cell), and a client resumes
from any event id with one indexed query, however long Kafka's retention.
Polling every `poll_s` costs one index probe per client.
Send ``Last-Event-ID`` (browsers' EventSource does this itself) to resume.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from api.auth import api_key_header, oauth2, require, user_for_credentials
from api.deps import ApiContext, Ctx
from api.errors import ApiError
from api.queries import feed as q
from api.users import User, get_user
from civicgrid.domain.case_state import Role

router = APIRouter(prefix="/feed", tags=["feed"])
FEED_ROLES = (Role.OPERATOR, Role.DISPATCHER, Role.SHIFT_LEADER, Role.LEADER, Role.DEPARTMENT, Role.INSPECTOR)
POLL_S = 0.5


def _read(ctx: ApiContext, user: User, position: tuple[int, int] | None, kinds: tuple[str, ...]):
    """(events, next position), or None when the user has been disabled meanwhile (the stream ends at once)."""
    with ctx.pool.connection() as conn:
        if get_user(conn, user.id) is None:
            return None
        if position is None:
            return [], q.start_position(conn)
        return q.read_after(conn, user, position, kinds)


@router.get("", summary="Live alarms and case events (text/event-stream); resume with Last-Event-ID",
            response_class=EventSourceResponse,
            responses={200: {"content": {"text/event-stream": {"example": 'id: 812-40\nevent: case_event\n'
                                                                           'data: {"case_id": "…", "action": '
                                                                           '"dispatch"}\n\n'}}}})
async def feed(request: Request, ctx: Ctx,
               user: Annotated[User, Depends(require(*FEED_ROLES))],
               kinds: Annotated[list[Literal["alarm", "case_event", "alarm_ack"]] | None, Query()] = None,
               last_event_id: Annotated[str | None, Header(max_length=100)] = None,
               token: Annotated[str | None, Depends(oauth2)] = None,
               x_api_key: Annotated[str | None, Depends(api_key_header)] = None,
               ) -> EventSourceResponse:
    wanted = tuple(kinds or q.KINDS)
    start = q.parse_event_id(last_event_id or request.query_params.get("last_event_id"))
    api = ctx.settings.api
    if not ctx.feed_streams.open(user.id, api.feed_max_streams_per_user):
        raise ApiError(429, "too-many-streams", f"at most {api.feed_max_streams_per_user} live feeds per user; "
                                                "close one first", retry_after_s=5)

    async def events() -> AsyncIterator[ServerSentEvent]:
        position, checked = start, time.monotonic()
        while not await request.is_disconnected():
            if time.monotonic() - checked >= api.feed_recheck_s:
                # The credentials again: an expired token, a revoked key or a disabled user ends the stream.
                if not await asyncio.to_thread(_still_allowed, ctx, token, x_api_key):
                    yield ServerSentEvent(data='{"reason": "credentials no longer valid"}', event="end")
                    return
                checked = time.monotonic()
            read = await asyncio.to_thread(_read, ctx, user, position, wanted)
            if read is None:
                yield ServerSentEvent(data='{"reason": "user disabled"}', event="end")
                return
            batch, position = read
            for event_id, kind, payload in batch:
                yield ServerSentEvent(data=orjson.dumps(payload).decode(), event=kind, id=event_id)
            if not batch:
                await asyncio.sleep(POLL_S)

    # The background task runs when the response ends, however it ends (also when the client goes away).
    return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-store"},
                               background=BackgroundTask(ctx.feed_streams.close, user.id))


def _still_allowed(ctx: ApiContext, token: str | None, x_api_key: str | None) -> bool:
    with ctx.pool.connection() as conn:
        try:
            user_for_credentials(ctx, conn, token, x_api_key)
        except ApiError:
            return False
    return True


