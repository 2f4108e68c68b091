"""/feed: Server-Sent Events with new alarms and case events, in the caller's scope, resumable.

Fed from the database (``feed_events``, filled by triggers on ``alarms`` and
``case_events``) rather than Kafka: the database is where every writer (API, streams)
already commits, the rows carry the scope columns (department, cell), and a client resumes
from any event id with one indexed query, however long Kafka's retention.
One poller per API process reads new events for every open stream (api/feed_hub.py); a stream
resuming from an older id catches up with its own scoped reads first.
Send ``Last-Event-ID`` (browsers' EventSource does this itself) to resume.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from api.feed_hub import Subscription
from api.queries import feed as q
from api.users import User
from civicgrid.domain.case_state import Role

router = APIRouter(prefix="/feed", tags=["feed"])
FEED_ROLES = (Role.OPERATOR, Role.DISPATCHER, Role.SHIFT_LEADER, Role.LEADER, Role.DEPARTMENT, Role.INSPECTOR)
WAIT_S = 1.0  # a quiet stream looks up this often (client gone, credentials due for a check)


def _catch_up(ctx: ApiContext, user: User, position: tuple[int, int], kinds: tuple[str, ...],
              until: tuple[int, int]):
    with ctx.pool.connection() as conn:
        return q.read_after(conn, user, position, kinds, until)


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
    joined = await ctx.feed_hub.subscribe(user, wanted, start, api.feed_max_streams_per_user)
    if joined is None:
        raise ApiError(429, "too-many-streams", f"at most {api.feed_max_streams_per_user} live feeds per user; "
                                                "close one first", retry_after_s=5)
    sub, joined_at = joined

    async def events() -> AsyncIterator[ServerSentEvent]:
        position = start
        while position is not None and position < joined_at:  # resuming: what happened before joining
            batch, position = await asyncio.to_thread(_catch_up, ctx, user, position, wanted, joined_at)
            for event_id, kind, payload in batch:
                yield ServerSentEvent(data=orjson.dumps(payload).decode(), event=kind, id=event_id)
        checked = time.monotonic()
        while not await request.is_disconnected():
            if time.monotonic() - checked >= api.feed_recheck_s:
                # The credentials again: an expired token, a revoked key or a disabled user ends the stream.
                if not await asyncio.to_thread(_still_allowed, ctx, token, x_api_key):
                    yield _end("credentials no longer valid")
                    return
                checked = time.monotonic()
            for event_id, kind, data in sub.take():
                yield ServerSentEvent(data=data, event=kind, id=event_id)
            if sub.ended:
                yield _end(sub.ended)
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sub.wake.wait(), WAIT_S)

    # The background task runs when the response ends, however it ends (also when the client goes away).
    return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-store"},
                               background=BackgroundTask(_leave, ctx, sub))


def _end(reason: str) -> ServerSentEvent:
    return ServerSentEvent(data=orjson.dumps({"reason": reason}).decode(), event="end")


async def _leave(ctx: ApiContext, sub: Subscription) -> None:
    ctx.feed_hub.unsubscribe(sub)


def _still_allowed(ctx: ApiContext, token: str | None, x_api_key: str | None) -> bool:
    with ctx.pool.connection() as conn:
        try:
            user_for_credentials(ctx, conn, token, x_api_key)
        except ApiError:
            return False
    return True
