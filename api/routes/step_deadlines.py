"""GET /cases/{case_id}/step-deadlines: each step's own clock — accept, verify, file, dispatch, check, close.

Computed at each request from the case's event records with the limits and calendar of the version the case was
filed under (civicgrid/domain/step_deadlines.py), so the console shows what the evaluation will count. The
deadline watch in the streams warns and escalates the same clocks (civicgrid/cases/deadlines.py).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from api.auth import require
from api.deps import Ctx, Db
from api.errors import not_found
from api.queries import cases as q
from api.schemas.step_deadlines import StepDeadline, StepDeadlines
from api.users import User
from civicgrid.domain.case_state import Role
from civicgrid.domain.step_deadlines import step_clocks

router = APIRouter(prefix="/cases", tags=["cases"])


@router.get("/{case_id}/step-deadlines", summary="Each step's deadline: started, runs out, ended, light",
            responses={404: {"description": "no such case in the caller's scope"}})
def step_deadlines(case_id: uuid.UUID, ctx: Ctx, db: Db,
                   user: Annotated[User, Depends(require(*tuple(Role)))]) -> StepDeadlines:
    row = q.get_case(db, user, str(case_id))
    if row is None:
        raise not_found("case", case_id)
    now = ctx.clock.now()
    version = row["rules_version"]
    rules = ctx.book.rules(db, version)
    records = [r[0] for r in db.execute("SELECT payload FROM case_events WHERE case_id = %s ORDER BY seq",
                                        (str(case_id),)).fetchall()]
    steps = []
    for clock in step_clocks(records, rules.limits, rules.calendar, now):
        on_time = clock.on_time
        status = ("running" if clock.running else "cut" if not clock.completed
                  else "on_time" if on_time else "late")
        steps.append(StepDeadline(step=clock.step.value, started_at=clock.started_at,
                                  deadline=clock.deadline, ended_at=clock.ended_at, status=status, on_time=on_time,
                                  share_used=round(clock.share_used(now, rules.calendar), 4),
                                  light=clock.light(now, rules.limits, rules.calendar).value,
                                  limit=clock.limit.as_json()))
    return StepDeadlines(case_id=str(case_id), rules_version=version, now=now, steps=steps)
