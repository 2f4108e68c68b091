"""Duplicates before filing: the open cases a report may repeat, and linking the report to one of them.

The console's call form and an inspector's handheld (HTTP Basic with the device's id and secret, as its inspector)
ask ``GET /duplicates`` with the category and the point before filing; the operator (or inspector) then files as
usual (``POST /cases``, ``POST /cases/calls``, the handheld's queue) or links the report, with its photos, to the
case it repeats (``POST /duplicates/{case_id}/link``), which keeps the caller on that case for feedback; the
instruction and transfer forms link with the instructing leader, or the transferring body and its reference, kept
on the case as they are when filed (civicgrid/cases/referrals.py). Both go
through the case service (civicgrid/cases/duplicates.py); Open311 does the same in its POST.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.auth import require_or_handheld
from api.deps import Ctx, Db
from api.errors import forbidden
from api.schemas.duplicates import DuplicateCandidate, LinkedPublic, LinkIn
from api.users import User
from civicgrid.cases.callers import Caller
from civicgrid.cases.referrals import instruction_evidence, transfer_caller, transfer_evidence
from civicgrid.domain.case_state import Role

router = APIRouter(prefix="/duplicates", tags=["cases"])
# Who reports (the permission table's `report`, as shipped) and the shift leader who files.
REPORTERS = (Role.INSPECTOR, Role.OPERATOR, Role.LEADER, Role.SHIFT_LEADER)
Reporter = Annotated[User, Depends(require_or_handheld(*REPORTERS))]
# Who may link a report of each source: whom that source's own filing route admits (api/routes/intake.py: a
# transfer an operator, an instruction an operator or the leader; a call an operator or shift leader; the
# handheld its inspector), so a link is not a way round them.
CHANNEL_ROLES: dict[str, frozenset[Role]] = {
    "hotline": frozenset({Role.OPERATOR, Role.SHIFT_LEADER}),
    "leader": frozenset({Role.OPERATOR, Role.LEADER}),
    "transfer": frozenset({Role.OPERATOR}),
    "camera": frozenset({Role.OPERATOR}),
    "open311": frozenset({Role.OPERATOR}),
    "inspector": frozenset({Role.INSPECTOR}),
}


@router.get("", summary="Open cases a report at this point may repeat (same category, within the rule pack's "
                        "radius and window), nearest first")
def duplicate_candidates(
    ctx: Ctx, db: Db, user: Reporter,
    category_code: Annotated[str, Query(max_length=10)],
    lon: Annotated[float, Query(ge=-180, le=180)], lat: Annotated[float, Query(ge=-90, le=90)],
    radius_m: Annotated[float | None, Query(gt=0, le=1000, description="default: the rule pack's (50 m)")] = None,
) -> list[DuplicateCandidate]:
    # an unknown category is the caller's mistake (422), not "no candidates"
    ctx.current_rules(db).catalogue.get(category_code)
    found = ctx.cases.duplicates(db, category_code, lon, lat, ctx.clock.now(), radius_m=radius_m)
    return [DuplicateCandidate(case_id=c.case_id, case_no=c.case_no, state=c.state, category_code=c.category_code,
                               distance_m=round(c.distance_m, 1), reported_at=c.reported_at,
                               description=c.description, address=c.address, callers=c.callers) for c in found]


@router.post("/{case_id}/link", summary="Link a report to the open case it repeats instead of filing it; the "
                                         "caller is kept on the case (and told when it closes, with callback)")
def link_report(case_id: uuid.UUID, body: LinkIn, ctx: Ctx, db: Db, user: Reporter) -> LinkedPublic:
    if user.role not in CHANNEL_ROLES[body.channel]:
        raise forbidden(f"a {user.role.value} does not take reports of the {body.channel} channel")
    details: dict[str, Any] = {}
    if body.channel == "transfer" and body.from_body and body.reference:  # the schema requires both there
        caller = transfer_caller(body.from_body, body.reference, body.caller_phone, client=user.username,
                                 callback=body.callback, description=body.description)
        details = transfer_evidence(body.from_body, body.reference)
    else:
        caller = Caller(body.channel, body.leader or body.caller_name, body.caller_phone, body.caller_email,
                        client=user.username, callback=body.callback, description=body.description)
        if body.channel == "leader" and body.leader and body.description:
            details = instruction_evidence(body.leader, body.description, user.username)
    linked = ctx.cases.link(db, user.role, user.username, str(case_id), caller, ctx.clock.now(),
                            tuple(body.media_ids), details=details)
    return LinkedPublic(case_id=linked.case_id, case_no=linked.case_no, caller_id=linked.caller_id)
