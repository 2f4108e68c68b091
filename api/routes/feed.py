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
from collections.abc import AsyncIterator
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.auth import require
from api.deps import ApiContext, Ctx
from api.queries import feed as q
from api.users import User
from civicgrid.domain.case_state import Role

router = APIRouter(prefix="/feed", tags=["feed"])
POLL_S = 0.5


def _read(ctx: ApiContext, user: User, position: tuple[int, int] | None, kinds: tuple[str, ...]):
    with ctx.pool.connection() as conn:
        if position is None:
            return [], q.start_position(conn)
        return q.read_after(conn, user, position, kinds)


@router.get("", summary="Live alarms and case events (text/event-stream); resume with Last-Event-ID",
            response_class=EventSourceResponse,
            responses={200: {"content": {"text/event-stream": {"example": 'id: 812-40\nevent: case_event\n'
                                                                           'data: {"case_id": "…", "action": '
                                                                           '"dispatch"}\n\n'}}}})
async def feed(request: Request, ctx: Ctx,
               user: Annotated[User, Depends(require(Role.OPERATOR, Role.DISPATCHER, Role.SHIFT_LEADER,
                                                     Role.LEADER, Role.DEPARTMENT, Role.INSPECTOR))],
               kinds: Annotated[list[Literal["alarm", "case_event", "alarm_ack"]] | None, Query()] = None,
               last_event_id: Annotated[str | None, Header(max_length=100)] = None,
               ) -> EventSourceResponse:
    wanted = tuple(kinds or q.KINDS)
    start = q.parse_event_id(last_event_id or request.query_params.get("last_event_id"))

    async def events() -> AsyncIterator[ServerSentEvent]:
        position = start
        while not await request.is_disconnected():
            batch, position = await asyncio.to_thread(_read, ctx, user, position, wanted)
            for event_id, kind, payload in batch:
                yield ServerSentEvent(data=orjson.dumps(payload).decode(), event=kind, id=event_id)
            if not batch:
                await asyncio.sleep(POLL_S)

    return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-store"})


