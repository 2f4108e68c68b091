"""The case lifecycle (CJ/T 315) as an explicit state machine (docs/domain.md §4).

`apply(case, command, now)` checks, in this order: the action exists in the case's
state (`IllegalTransition`), the role may take it (`RoleNotAllowed`, from the
`Permissions` data table), the command carries the data the action needs
(`MissingTransitionData`), and the case-specific precondition (`PreconditionFailed`);
then it returns a `Transition`: the event record and the new case. No clock is read:
`now` comes in.

Main path: reported (→ accepted, 受理, in place) → (verifying → reported) → filed → dispatched → disposing →
disposed → checking → closed. Rework (check_fail) goes back to dispatched, return
(approve_return) back to filed; postponement and urging stay in place; suspension
stops the clock and resume returns to the state it left; self_handle closes an
inspector's own report at once, the one path to `closed` without a passed check (核查);
merge (合并) ends a repeat report as `cancelled`, naming the open case it joins; escalate (上报上级) and
transfer (转办) hand a reported or filed case to another centre in place (the centre is routing, kept on the
case row by civicgrid/cases/centres.py, not a lifecycle fact).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from civicgrid.domain.case_state import (
    TERMINAL,
    Action,
    CaseState,
    CloseType,
    Command,
    IllegalTransition,
    MissingTransitionData,
    Pending,
    PendingKind,
    PreconditionFailed,
    Role,
    RoleNotAllowed,
    Source,
    State,
    Transition,
)
from civicgrid.domain.catalogue import parse_category_code
from civicgrid.domain.permissions import Permissions, default_permissions
from civicgrid.domain.time_limits import DisposalClass, Limit

S = State
A = Action
# Resume's target is the state the case was suspended from.
PREVIOUS = "previous"

_ACTIVE = (S.DISPATCHED, S.DISPOSING, S.DISPOSED)
_SUSPENDABLE = (S.FILED, S.DISPATCHED, S.DISPOSING, S.DISPOSED, S.CHECKING)
_OPEN = tuple(s for s in State if s not in TERMINAL)
# A case changes centre only while no department holds it (one returned to the dispatcher is filed again).
_BEFORE_DEPARTMENT = (S.REPORTED, S.FILED)

# (state, action) → target state. Structural: the contract of docs/domain.md §4.
RULES: dict[tuple[State, Action], State | str] = {
    (S.REPORTED, A.ACCEPT): S.REPORTED,
    (S.REPORTED, A.SEND_VERIFY): S.VERIFYING,
    (S.VERIFYING, A.CONFIRM): S.REPORTED,
    (S.VERIFYING, A.REFUTE): S.CANCELLED,
    (S.REPORTED, A.FILE): S.FILED,
    (S.REPORTED, A.SELF_HANDLE): S.CLOSED,
    (S.FILED, A.DISPATCH): S.DISPATCHED,
    (S.DISPATCHED, A.SIGN): S.DISPOSING,
    (S.DISPOSING, A.DISPOSE): S.DISPOSED,
    (S.DISPOSED, A.SEND_CHECK): S.CHECKING,
    (S.CHECKING, A.CHECK_PASS): S.CHECKING,
    (S.CHECKING, A.CHECK_FAIL): S.DISPATCHED,
    (S.CHECKING, A.CLOSE): S.CLOSED,
    (S.SUSPENDED, A.RESUME): PREVIOUS,
    **{(s, A.REQUEST_RETURN): s for s in (S.DISPATCHED, S.DISPOSING)},
    **{(s, A.APPROVE_RETURN): S.FILED for s in (S.DISPATCHED, S.DISPOSING)},
    **{(s, A.REQUEST_POSTPONE): s for s in (S.DISPATCHED, S.DISPOSING)},
    **{(s, A.APPROVE_POSTPONE): s for s in (S.DISPATCHED, S.DISPOSING)},
    **{(s, A.REJECT_REQUEST): s for s in (S.DISPATCHED, S.DISPOSING)},
    **{(s, A.URGE): s for s in _ACTIVE},
    **{(s, A.SUSPEND): S.SUSPENDED for s in _SUSPENDABLE},
    **{(s, A.CANCEL): S.CANCELLED for s in (S.REPORTED, S.VERIFYING, S.FILED)},
    **{(s, A.MERGE): S.CANCELLED for s in (S.REPORTED, S.VERIFYING, S.FILED)},
    **{(s, A.INSTRUCT): s for s in _OPEN},
    **{(s, A.ESCALATE): s for s in _BEFORE_DEPARTMENT},
    **{(s, A.TRANSFER): s for s in _BEFORE_DEPARTMENT},
    **{(s, A.OVERDUE): s for s in _OPEN if s is not S.SUSPENDED},
    **{(s, A.DEADLINE_WARNING): s for s in _OPEN if s is not S.SUSPENDED},
}

# Actions the platform records itself (the deadline watch): never offered as a button.
AUTOMATIC = frozenset({A.OVERDUE, A.DEADLINE_WARNING})

# Actions that need the case's place: filing (立案) puts it in a unit grid cell's account, dispatch (派遣) follows the
# cell's responsibility table. A report that came without a place (flagged unlocated) waits in intake until an
# operator places it on the map (civicgrid/cases/placing.py); the flag lives on the case row, not in CaseState, so
# the case service asks `check_placed` before `apply`, and the allowed actions leave these out.
NEEDS_PLACE = frozenset({A.FILE, A.DISPATCH})

# Data each action must carry (the API turns these into request-body fields).
REQUIRED: dict[Action, tuple[str, ...]] = {
    A.FILE: ("category",),
    A.SELF_HANDLE: ("note",),
    A.DISPATCH: ("department",),
    A.DISPOSE: ("note",),
    A.REQUEST_RETURN: ("reason",),
    A.REQUEST_POSTPONE: ("extension", "reason"),
    A.REJECT_REQUEST: ("reason",),
    A.CHECK_FAIL: ("reason",),
    A.REFUTE: ("reason",),
    A.SUSPEND: ("reason",),
    A.CANCEL: ("reason",),
    A.MERGE: ("into",),
    A.INSTRUCT: ("note",),
    A.ESCALATE: ("reason",),
    A.TRANSFER: ("centre", "reason"),
    A.OVERDUE: ("deadline", "deadline_at"),
    A.DEADLINE_WARNING: ("deadline", "deadline_at"),
}


@dataclass(frozen=True, slots=True)
class Policy:
    """City choices: which sources must be verified (核实) before filing [ours]."""

    verify_sources: frozenset[Source] = frozenset({Source.HOTLINE, Source.LEADER, Source.TRANSFER})


def allowed(state: State) -> frozenset[Action]:
    """Actions a person may take in `state` (for some role); the platform's own (`AUTOMATIC`) are not offered."""
    return frozenset(a for (s, a) in RULES if s == state and a not in AUTOMATIC)


def allowed_for(case: CaseState, role: Role, permissions: Permissions | None = None, *,
                unlocated: bool = False) -> frozenset[Action]:
    """Actions this role may take on this case now (for UI buttons); preconditions not checked, but an unlocated
    case offers none of `NEEDS_PLACE`."""
    perms = permissions or default_permissions()
    return frozenset(a for a in allowed(case.state) if perms.allows(role, a)
                     and not (unlocated and a in NEEDS_PLACE))


def check_placed(case: CaseState, action: Action, *, unlocated: bool) -> None:
    """Refuse an action of `NEEDS_PLACE` on an unlocated case (no point, no cell), with the way out."""
    if unlocated and action in NEEDS_PLACE:
        raise PreconditionFailed(case.state, action, "the case is unlocated (no point, no unit grid cell): an "
                                                     "operator places it on the map first (intake, 待定位)")


def open_case(
    case_id: str,
    source: Source,
    command: Command,
    now: datetime,
    *,
    permissions: Permissions | None = None,
) -> Transition:
    """The first transition: a report (上报) creates the case in `reported`."""
    if command.action is not A.REPORT:
        raise IllegalTransition(None, command.action, (A.REPORT,))
    perms = permissions or default_permissions()
    if not perms.allows(command.role, A.REPORT):
        raise RoleNotAllowed(command.role, A.REPORT, perms.roles_for(A.REPORT))
    data = dict(command.data)
    if "category" in data:
        _check_category(A.REPORT, data["category"])
    case = CaseState(
        id=case_id,
        state=S.REPORTED,
        source=Source(source),
        reported_at=now,
        state_since=now,
        category=data.get("category"),
        cell=data.get("cell"),
    )
    return Transition(case_id, 1, A.REPORT, None, S.REPORTED, command.role, command.actor, now, data, case)


def apply(
    case: CaseState,
    command: Command,
    now: datetime,
    *,
    permissions: Permissions | None = None,
    policy: Policy | None = None,
) -> Transition:
    """Check and apply one command; raises a `LifecycleError` subclass when it may not happen."""
    action = command.action
    try:
        target = RULES[case.state, action]
    except KeyError:
        raise IllegalTransition(case.state, action, allowed(case.state)) from None
    perms = permissions or default_permissions()
    if not perms.allows(command.role, action):
        raise RoleNotAllowed(command.role, action, perms.roles_for(action))
    data = command.data
    missing = tuple(k for k in REQUIRED.get(action, ()) if data.get(k) in (None, ""))
    if missing:
        raise MissingTransitionData(action, missing)
    to_state = case.suspended_from if target == PREVIOUS else State(target)
    assert to_state is not None  # a suspended case always records where it came from
    changes = _effects(case, command, now, policy or Policy())
    new_case = replace(
        case,
        state=to_state,
        version=case.version + 1,
        state_since=now if to_state != case.state else case.state_since,
        **changes,
    )
    return Transition(
        case.id, new_case.version, action, case.state, to_state, command.role, command.actor, now,
        dict(data), new_case,
    )


def _effects(case: CaseState, cmd: Command, now: datetime, policy: Policy) -> dict[str, Any]:
    """Field changes of an action, after checking its case-specific precondition."""
    effect = _EFFECTS.get(cmd.action)
    return {} if effect is None else effect(case, cmd, now, policy)


Effect = Callable[[CaseState, Command, datetime, Policy], dict[str, Any]]


def _fail(case: CaseState, cmd: Command, reason: str) -> PreconditionFailed:
    return PreconditionFailed(case.state, cmd.action, reason)


def _file(case: CaseState, cmd: Command, now: datetime, policy: Policy) -> dict[str, Any]:
    if case.source in policy.verify_sources and not case.verified:
        raise _fail(case, cmd, f"a {case.source.value} report must be verified (核实) before filing")
    data = cmd.data
    _check_category(cmd.action, data["category"])
    out: dict[str, Any] = {"category": data["category"]}
    if data.get("disposal_class") is not None:
        out["disposal_class"] = _disposal_class(cmd.action, data["disposal_class"])
    if data.get("cell") is not None:
        out["cell"] = data["cell"]
    return out


def _self_handle(case: CaseState, cmd: Command, now: datetime, policy: Policy) -> dict[str, Any]:
    if case.source is not Source.INSPECTOR:
        raise _fail(case, cmd, "only an inspector's own report can be self-handled (自处理)")
    return {"self_handled": True, "close_type": CloseType.NORMAL}


def _dispatch(case: CaseState, cmd: Command, now: datetime, policy: Policy) -> dict[str, Any]:
    out: dict[str, Any] = {"department": str(cmd.data["department"]), "dispatched_at": now, "check_passed": False}
    if cmd.data.get("deadline") is not None:
        out["disposal_deadline"] = _datetime(cmd.action, "deadline", cmd.data["deadline"])
    return out


def _request(case: CaseState, cmd: Command, now: datetime, policy: Policy) -> dict[str, Any]:
    if case.pending is not None:
        raise _fail(case, cmd, f"a {case.pending.kind.value} request is already pending")
    if cmd.action is A.REQUEST_POSTPONE and not isinstance(cmd.data["extension"], Limit):
        raise MissingTransitionData(cmd.action, ("extension",), "must be a Limit (amount and unit)")
    kind = PendingKind.RETURN if cmd.action is A.REQUEST_RETURN else PendingKind.POSTPONE
    return {"pending": Pending(kind, dict(cmd.data))}


def _approve_return(case: CaseState, cmd: Command, now: datetime, policy: Policy) -> dict[str, Any]:
    _expect_pending(case, cmd, PendingKind.RETURN)
    return {
        "pending": None, "returns": case.returns + 1, "department": None,
        "dispatched_at": None, "disposal_deadline": None,
    }


def _approve_postpone(case: CaseState, cmd: Command, now: datetime, policy: Policy) -> dict[str, Any]:
    pending = _expect_pending(case, cmd, PendingKind.POSTPONE)
    extension = cmd.data.get("extension", pending.data["extension"])
    return {"pending": None, "postponements": case.postponements + 1, "extensions": (*case.extensions, extension),
            **_later_deadline(case, cmd, "a postponement")}


def _reject_request(case: CaseState, cmd: Command, now: datetime, policy: Policy) -> dict[str, Any]:
    if case.pending is None:
        raise _fail(case, cmd, "no request is pending")
    return {"pending": None}


def _check_fail(case: CaseState, cmd: Command, now: datetime, policy: Policy) -> dict[str, Any]:
    # 返工: back to the same department; the disposal clock restarts at the rework, so the
    # caller passes the new deadline (as for dispatch) -- without one the old deadline stays.
    out: dict[str, Any] = {"check_passed": False, "reworks": case.reworks + 1, "disposed_at": None,
                           "dispatched_at": now}
    if cmd.data.get("deadline") is not None:
        out["disposal_deadline"] = _datetime(cmd.action, "deadline", cmd.data["deadline"])
    return out


def _resume(case: CaseState, cmd: Command, now: datetime, policy: Policy) -> dict[str, Any]:
    # Suspension stopped the clock: the caller passes the disposal deadline moved on by the pause
    # (time_limits.after_suspension) -- without one the old deadline stays.
    return {"suspended_from": None, "suspended_at": None, **_later_deadline(case, cmd, "a resume")}


def _later_deadline(case: CaseState, cmd: Command, what: str) -> dict[str, Any]:
    """The disposal deadline the caller passed, if any; refused when it would come earlier than the stored one."""
    if cmd.data.get("deadline") is None:
        return {}
    new = _datetime(cmd.action, "deadline", cmd.data["deadline"])
    if case.disposal_deadline is not None and new < case.disposal_deadline:
        raise _fail(case, cmd, f"{what} never shortens the disposal deadline")
    return {"disposal_deadline": new}


def _accept(case: CaseState, cmd: Command, now: datetime, policy: Policy) -> dict[str, Any]:
    if case.accepted_at is not None:
        raise _fail(case, cmd, f"accepted (受理) already at {case.accepted_at.isoformat()}")
    return {"accepted_at": now}


def _merge(case: CaseState, cmd: Command, now: datetime, policy: Policy) -> dict[str, Any]:
    # The caller (civicgrid/cases/actions.py) checks that the other case exists and is open; here only what the
    # case itself can tell.
    into = str(cmd.data["into"])
    if into == case.id:
        raise _fail(case, cmd, "a case cannot be merged into itself")
    return {"merged_into": into}


def _close(case: CaseState, cmd: Command, now: datetime, policy: Policy) -> dict[str, Any]:
    if not case.check_passed:
        raise _fail(case, cmd, "the check (核查) has not passed")
    return {"close_type": _close_type(case, cmd.data)}


_EFFECTS: dict[Action, Effect] = {
    A.ACCEPT: _accept,
    A.MERGE: _merge,
    A.CONFIRM: lambda case, cmd, now, policy: {"verified": True},
    A.FILE: _file,
    A.SELF_HANDLE: _self_handle,
    A.DISPATCH: _dispatch,
    A.DISPOSE: lambda case, cmd, now, policy: {"disposed_at": now},
    A.REQUEST_RETURN: _request,
    A.REQUEST_POSTPONE: _request,
    A.APPROVE_RETURN: _approve_return,
    A.APPROVE_POSTPONE: _approve_postpone,
    A.REJECT_REQUEST: _reject_request,
    A.URGE: lambda case, cmd, now, policy: {"urges": case.urges + 1},
    A.CHECK_PASS: lambda case, cmd, now, policy: {"check_passed": True},
    A.CHECK_FAIL: _check_fail,
    A.CLOSE: _close,
    A.SUSPEND: lambda case, cmd, now, policy: {"suspended_from": case.state, "suspended_at": now},
    A.RESUME: _resume,
}


def _expect_pending(case: CaseState, cmd: Command, kind: PendingKind) -> Pending:
    if case.pending is None or case.pending.kind is not kind:
        raise _fail(case, cmd, f"no {kind.value} request is pending")
    return case.pending


def _close_type(case: CaseState, data: Mapping[str, Any]) -> CloseType:
    """Explicit close type if given (e.g. special 特殊), else overdue when disposal was late."""
    if data.get("close_type") is not None:
        try:
            return CloseType(data["close_type"])
        except ValueError:
            raise MissingTransitionData(A.CLOSE, ("close_type",), "normal, overdue or special") from None
    if case.disposal_deadline and case.disposed_at and case.disposed_at > case.disposal_deadline:
        return CloseType.OVERDUE
    return CloseType.NORMAL


def _check_category(action: Action, value: Any) -> None:
    try:
        parse_category_code(value)
    except ValueError as exc:
        raise MissingTransitionData(action, ("category",), str(exc)) from None


def _disposal_class(action: Action, value: Any) -> DisposalClass:
    try:
        return DisposalClass(value)
    except ValueError:
        raise MissingTransitionData(action, ("disposal_class",), "one of A-F") from None


def _datetime(action: Action, key: str, value: Any) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise MissingTransitionData(action, (key,), "an aware datetime")
    return value
