"""The case state machine: paths, typed errors, permissions as data, invariants."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicgrid.domain.case_state import (
    TERMINAL,
    Action,
    CaseState,
    CloseType,
    Command,
    IllegalTransition,
    LifecycleError,
    MissingTransitionData,
    PendingKind,
    PreconditionFailed,
    Role,
    RoleNotAllowed,
    Source,
    State,
    Transition,
)
from civicgrid.domain.lifecycle import RULES, Policy, allowed, allowed_for, apply, check_placed, open_case
from civicgrid.domain.permissions import InvalidPermissions, Permissions, default_permissions
from civicgrid.domain.time_limits import Limit, Unit
from civicgrid.domain.working_calendar import CHINA_TZ

T0 = datetime(2024, 6, 3, 9, 0, tzinfo=CHINA_TZ)
A = Action
R = Role

# Data that satisfies every action's requirements, and the usual role for each.
FULL_DATA: dict[str, Any] = {
    "category": "E0102", "department": "环卫处", "note": "done", "reason": "because",
    "extension": Limit(2, Unit.HOURS), "disposal_class": "B", "cell": "34152300100103",
}
ROLE = {
    A.SEND_VERIFY: R.OPERATOR, A.CONFIRM: R.INSPECTOR, A.REFUTE: R.INSPECTOR, A.FILE: R.SHIFT_LEADER,
    A.SELF_HANDLE: R.INSPECTOR, A.DISPATCH: R.DISPATCHER, A.SIGN: R.DEPARTMENT, A.DISPOSE: R.DEPARTMENT,
    A.REQUEST_RETURN: R.DEPARTMENT, A.APPROVE_RETURN: R.DISPATCHER, A.REQUEST_POSTPONE: R.DEPARTMENT,
    A.APPROVE_POSTPONE: R.DISPATCHER, A.REJECT_REQUEST: R.DISPATCHER, A.URGE: R.DISPATCHER,
    A.SEND_CHECK: R.OPERATOR, A.CHECK_PASS: R.INSPECTOR, A.CHECK_FAIL: R.INSPECTOR, A.CLOSE: R.SHIFT_LEADER,
    A.SUSPEND: R.SHIFT_LEADER, A.RESUME: R.SHIFT_LEADER, A.CANCEL: R.SHIFT_LEADER, A.INSTRUCT: R.LEADER,
}


def cmd(action: Action, role: Role | None = None, **data: Any) -> Command:
    return Command(action, role or ROLE[action], f"{(role or ROLE[action]).value}-1", data)


def new_case(source: Source = Source.INSPECTOR, **data: Any) -> CaseState:
    return open_case("case-1", source, cmd(A.REPORT, R.INSPECTOR, **data), T0).case


def run(case: CaseState, *steps: Command) -> tuple[CaseState, list[Transition]]:
    out = []
    for n, c in enumerate(steps, start=1):
        t = apply(case, c, T0 + timedelta(minutes=10 * n))
        out.append(t)
        case = t.case
    return case, out


MAIN_PATH = [
    cmd(A.FILE, category="E0102", disposal_class="B"),
    cmd(A.DISPATCH, department="环卫处"),
    cmd(A.SIGN),
    cmd(A.DISPOSE, note="cleared"),
    cmd(A.SEND_CHECK),
    cmd(A.CHECK_PASS),
    cmd(A.CLOSE),
]


def test_main_path_and_records() -> None:
    opened = open_case("case-1", Source.INSPECTOR, cmd(A.REPORT, R.INSPECTOR, cell="34152300100103"), T0)
    assert (opened.seq, opened.from_state, opened.to_state) == (1, None, State.REPORTED)
    case, ts = run(opened.case, *MAIN_PATH)
    assert [t.to_state for t in ts] == [State.FILED, State.DISPATCHED, State.DISPOSING, State.DISPOSED,
                                        State.CHECKING, State.CHECKING, State.CLOSED]
    assert case.state is State.CLOSED and case.version == 8
    assert case.close_type is CloseType.NORMAL
    assert (case.category, case.department, case.cell) == ("E0102", "环卫处", "34152300100103")
    rec = ts[1].record()
    assert rec == {
        "case_id": "case-1", "seq": 3, "action": "dispatch", "from_state": "filed", "to_state": "dispatched",
        "role": "dispatcher", "actor": "dispatcher-1", "at": "2024-06-03T09:20:00+08:00",
        "data": {"department": "环卫处"}, "source": "inspector", "category": "E0102",
        "cell": "34152300100103", "department": "环卫处",
    }
    json.dumps([t.record() for t in ts], ensure_ascii=False)
    assert ts[0].case.state_since == T0 + timedelta(minutes=10)
    assert ts[5].case.state_since == ts[4].at  # check_pass stays in checking


def test_illegal_transition_names_state_action_and_allowed() -> None:
    case = new_case()
    with pytest.raises(IllegalTransition) as info:
        apply(case, cmd(A.DISPATCH, department="x"), T0)
    err = info.value
    assert err.state is State.REPORTED and err.action is A.DISPATCH
    assert set(err.allowed) == {A.ACCEPT, A.MERGE, A.SEND_VERIFY, A.FILE, A.SELF_HANDLE, A.CANCEL, A.INSTRUCT,
                                A.ESCALATE, A.TRANSFER}
    assert "reported" in str(err) and "dispatch" in str(err) and "send_verify" in str(err)
    closed, _ = run(case, cmd(A.SELF_HANDLE, note="fixed"))
    with pytest.raises(IllegalTransition, match="none"):
        apply(closed, cmd(A.INSTRUCT, note="x"), T0)


def test_role_not_allowed() -> None:
    with pytest.raises(RoleNotAllowed) as info:
        apply(new_case(), cmd(A.FILE, R.OPERATOR, category="E0102"), T0)
    assert info.value.allowed == (R.ADMIN, R.SHIFT_LEADER)
    with pytest.raises(RoleNotAllowed):
        open_case("c", Source.HOTLINE, cmd(A.REPORT, R.DEPARTMENT), T0)


def test_missing_transition_data() -> None:
    filed, _ = run(new_case(), MAIN_PATH[0])
    with pytest.raises(MissingTransitionData) as info:
        apply(filed, cmd(A.DISPATCH), T0)
    assert info.value.missing == ("department",)
    with pytest.raises(MissingTransitionData, match="category"):
        apply(new_case(), cmd(A.FILE, category="Z9"), T0)
    with pytest.raises(MissingTransitionData, match="disposal_class"):
        apply(new_case(), cmd(A.FILE, category="E0102", disposal_class="Q"), T0)
    with pytest.raises(MissingTransitionData, match="category"):
        open_case("c", Source.INSPECTOR, cmd(A.REPORT, R.INSPECTOR, category="nope"), T0)
    with pytest.raises(IllegalTransition):
        open_case("c", Source.INSPECTOR, cmd(A.FILE, category="E0102"), T0)


def test_closing_needs_a_passed_check_and_rework_resets_it() -> None:
    case, _ = run(new_case(), *MAIN_PATH[:5])
    with pytest.raises(PreconditionFailed, match="核查"):
        apply(case, cmd(A.CLOSE), T0)
    case, _ = run(case, cmd(A.CHECK_FAIL, reason="still dirty"))
    assert (case.state, case.reworks, case.department, case.check_passed) == (State.DISPATCHED, 1, "环卫处", False)
    case, _ = run(case, cmd(A.SIGN), cmd(A.DISPOSE, note="again"), cmd(A.SEND_CHECK), cmd(A.CHECK_PASS),
                  cmd(A.CLOSE, close_type="special"))
    assert case.state is State.CLOSED and case.close_type is CloseType.SPECIAL
    with pytest.raises(MissingTransitionData, match="close_type"):
        checked, _ = run(new_case(), *MAIN_PATH[:6])
        apply(checked, cmd(A.CLOSE, close_type="late"), T0)


def test_rework_takes_the_new_disposal_deadline() -> None:
    case, _ = run(new_case(), *MAIN_PATH[:5])
    old = case.disposal_deadline
    new = T0 + timedelta(days=3)
    reworked, _ = run(case, cmd(A.CHECK_FAIL, reason="still dirty", deadline=new))
    assert reworked.disposal_deadline == new and new != old
    kept, _ = run(case, cmd(A.CHECK_FAIL, reason="still dirty"))  # no new deadline given: the old one stays
    assert kept.disposal_deadline == old


def test_overdue_close_type_from_the_deadline() -> None:
    case, _ = run(new_case(), MAIN_PATH[0], cmd(A.DISPATCH, department="d", deadline=T0 + timedelta(minutes=25)),
                  *MAIN_PATH[2:])
    assert case.close_type is CloseType.OVERDUE
    with pytest.raises(MissingTransitionData, match="deadline"):
        run(new_case(), MAIN_PATH[0], cmd(A.DISPATCH, department="d", deadline="tomorrow"))


def test_verification_before_filing_for_hotline_reports() -> None:
    case = new_case(Source.HOTLINE)
    with pytest.raises(PreconditionFailed, match="verified"):
        apply(case, cmd(A.FILE, category="E0102"), T0)
    case, _ = run(case, cmd(A.SEND_VERIFY), cmd(A.CONFIRM), cmd(A.FILE, category="E0102"))
    assert case.state is State.FILED and case.verified
    refuted, _ = run(new_case(Source.HOTLINE), cmd(A.SEND_VERIFY), cmd(A.REFUTE, reason="nothing there"))
    assert refuted.state is State.CANCELLED
    # A city that verifies sensor alarms too:
    with pytest.raises(PreconditionFailed):
        apply(new_case(Source.SENSOR), cmd(A.FILE, category="E0403"), T0,
              policy=Policy(verify_sources=frozenset({Source.SENSOR})))
    assert apply(new_case(Source.SENSOR), cmd(A.FILE, category="E0403"), T0).to_state is State.FILED


def test_self_handled_only_for_inspector_reports() -> None:
    case, _ = run(new_case(), cmd(A.SELF_HANDLE, note="picked it up"))
    assert case.state is State.CLOSED and case.self_handled and not case.check_passed
    with pytest.raises(PreconditionFailed, match="自处理"):
        apply(new_case(Source.CAMERA), cmd(A.SELF_HANDLE, note="x"), T0)


def test_suspend_and_resume_to_the_state_it_left() -> None:
    case, _ = run(new_case(), *MAIN_PATH[:3], cmd(A.SUSPEND, reason="needs funds"))
    assert (case.state, case.suspended_from) == (State.SUSPENDED, State.DISPOSING)
    assert case.suspended_at == T0 + timedelta(minutes=40)
    assert allowed(State.SUSPENDED) == {A.RESUME, A.INSTRUCT}
    case, _ = run(case, cmd(A.RESUME))
    assert (case.state, case.suspended_from, case.suspended_at) == (State.DISPOSING, None, None)


def test_resume_takes_the_deadline_moved_on_by_the_pause() -> None:
    old = T0 + timedelta(hours=4)
    suspended, _ = run(new_case(), MAIN_PATH[0], cmd(A.DISPATCH, department="d", deadline=old), MAIN_PATH[2],
                       cmd(A.SUSPEND, reason="needs funds"))
    later = old + timedelta(days=2)
    resumed, _ = run(suspended, cmd(A.RESUME, deadline=later))
    assert resumed.disposal_deadline == later
    kept, _ = run(suspended, cmd(A.RESUME))  # no new deadline given: the old one stays
    assert kept.disposal_deadline == old
    with pytest.raises(PreconditionFailed, match="never shortens"):
        run(suspended, cmd(A.RESUME, deadline=old - timedelta(minutes=1)))


def test_return_and_postpone_need_the_dispatchers_approval() -> None:
    case, _ = run(new_case(), *MAIN_PATH[:2])
    with pytest.raises(PreconditionFailed, match="no return request"):
        apply(case, cmd(A.APPROVE_RETURN), T0)
    with pytest.raises(PreconditionFailed, match="no request"):
        apply(case, cmd(A.REJECT_REQUEST, reason="x"), T0)
    case, _ = run(case, cmd(A.REQUEST_RETURN, reason="not ours"))
    assert case.pending is not None and case.pending.kind is PendingKind.RETURN
    with pytest.raises(PreconditionFailed, match="already pending"):
        apply(case, cmd(A.REQUEST_POSTPONE, extension=Limit(1, Unit.DAYS), reason="x"), T0)
    case, _ = run(case, cmd(A.APPROVE_RETURN))
    assert (case.state, case.returns, case.department, case.pending) == (State.FILED, 1, None, None)

    due = T0 + timedelta(hours=5)
    case, _ = run(case, cmd(A.DISPATCH, department="园林处", deadline=due), cmd(A.SIGN))
    with pytest.raises(MissingTransitionData, match="Limit"):
        apply(case, cmd(A.REQUEST_POSTPONE, extension=2, reason="x"), T0)
    case, _ = run(case, cmd(A.REQUEST_POSTPONE, extension=Limit(1, Unit.DAYS), reason="parts"))
    with pytest.raises(PreconditionFailed, match="never shortens"):
        apply(case, cmd(A.APPROVE_POSTPONE, deadline=due - timedelta(hours=1)), T0)
    case, _ = run(case, cmd(A.APPROVE_POSTPONE, deadline=due + timedelta(days=1)))
    assert case.postponements == 1 and case.extensions == (Limit(1, Unit.DAYS),)
    assert case.disposal_deadline == due + timedelta(days=1)
    case, _ = run(case, cmd(A.REQUEST_POSTPONE, extension=Limit(1, Unit.DAYS), reason="more"),
                  cmd(A.REJECT_REQUEST, reason="no"), cmd(A.URGE), cmd(A.URGE, R.LEADER))
    assert (case.pending, case.postponements, case.urges) == (None, 1, 2)


def test_cancel_and_instruct() -> None:
    case, ts = run(new_case(), cmd(A.INSTRUCT, note="handle first"), cmd(A.CANCEL, reason="duplicate"))
    assert ts[0].to_state is State.REPORTED
    assert case.state is State.CANCELLED


def test_permissions_are_data_and_overridable() -> None:
    perms = default_permissions()
    assert perms is default_permissions()
    assert not perms.allows(R.OPERATOR, A.FILE)
    guide = perms.merged({"actions": {"file": ["operator", "shift_leader"], "close": ["operator", "shift_leader"]}})
    assert apply(new_case(), cmd(A.FILE, R.OPERATOR, category="E0102"), T0, permissions=guide).to_state is State.FILED
    assert guide.roles_for(A.DISPATCH) == perms.roles_for(A.DISPATCH)
    assert allowed_for(new_case(), R.INSPECTOR) == {A.SELF_HANDLE}
    assert allowed_for(new_case(), R.OPERATOR, guide) == {A.ACCEPT, A.MERGE, A.SEND_VERIFY, A.FILE}
    for action in Action:
        assert perms.allows(R.ADMIN, action), action
    for bad in [{"actions": {"fly": ["admin"]}}, {"actions": {"file": ["pilot"]}}, {"actions": {"file": "admin"}},
                {"rules": {}}]:
        with pytest.raises(InvalidPermissions):
            Permissions.from_mapping(bad)


def test_every_rule_target_is_a_state_and_terminals_are_dead_ends() -> None:
    for (state, action), target in RULES.items():
        assert state not in TERMINAL
        assert target == "previous" or target in State
        assert action is not A.REPORT
    for state in TERMINAL:
        assert allowed(state) == frozenset()
    reachable = {State.REPORTED}
    frontier = [State.REPORTED]
    while frontier:
        s = frontier.pop()
        for (src, _), target in RULES.items():
            if src == s and target != "previous" and target not in reachable:
                reachable.add(State(target))
                frontier.append(State(target))
    assert reachable == set(State)


def _check_invariants(source: Source, case: CaseState, history: list[Action]) -> None:
    assert case.state in State
    assert (case.state is State.SUSPENDED) == (case.suspended_from is not None)
    assert case.suspended_from not in (*TERMINAL, State.SUSPENDED, State.REPORTED, State.VERIFYING)
    if case.state in (State.DISPATCHED, State.DISPOSING, State.DISPOSED, State.CHECKING):
        assert case.department is not None
    if case.state is State.CLOSED:
        if case.self_handled:
            # Straight from `reported`: never filed, so there was nothing to check.
            assert history[-1] is A.SELF_HANDLE and not {A.FILE, A.DISPATCH} & set(history)
            assert source is Source.INSPECTOR
        else:
            last_redispatch = max(i for i, a in enumerate(history) if a in (A.DISPATCH, A.CHECK_FAIL))
            assert A.CHECK_PASS in history[last_redispatch:]
    if case.state in TERMINAL:
        assert allowed(case.state) == frozenset()


def _step(case: CaseState, command: Command, n: int, history: list[Action]) -> CaseState:
    try:
        t = apply(case, command, T0 + timedelta(minutes=n))
    except LifecycleError:
        return case
    assert t.from_state is case.state and t.seq == case.version + 1
    history.append(t.action)
    return t.case


@settings(max_examples=200, deadline=None)
@given(
    source=st.sampled_from(list(Source)),
    steps=st.lists(st.tuples(st.sampled_from([a for a in Action if a is not A.REPORT]),
                             st.sampled_from(list(Role)), st.booleans()), max_size=40),
)
def test_random_commands_never_break_the_invariants(source: Source, steps: list) -> None:
    """Any commands, legal or not: errors are always typed, states always defined."""
    case = open_case("c", source, cmd(A.REPORT, R.INSPECTOR), T0).case
    history: list[Action] = []
    for n, (action, role, with_data) in enumerate(steps):
        case = _step(case, Command(action, role, "x", FULL_DATA if with_data else {}), n, history)
        _check_invariants(source, case, history)


@settings(max_examples=300, deadline=None)
@given(source=st.sampled_from(list(Source)), data=st.data())
def test_legal_action_sequences_keep_the_invariants(source: Source, data: st.DataObject) -> None:
    """Walks that mostly pick a legal action with a permitted role, so they reach every
    state: no walk reaches an undefined state, and every closed case passed the check
    (核查) since its last (re)dispatch, except the self-handled path (自处理)."""
    perms = default_permissions()
    case = open_case("c", source, cmd(A.REPORT, R.INSPECTOR), T0).case
    history: list[Action] = []
    for n in range(data.draw(st.integers(0, 60), label="length")):
        if case.state in TERMINAL:
            break
        action = data.draw(st.sampled_from(sorted(allowed(case.state))))
        role = data.draw(st.sampled_from(sorted(perms.roles_for(action))) | st.sampled_from(list(Role)))
        payload = FULL_DATA if data.draw(st.integers(0, 9)) else {}
        case = _step(case, Command(action, role, "x", payload), n, history)
        _check_invariants(source, case, history)


def test_an_unlocated_case_is_neither_filed_nor_dispatched_until_placed() -> None:
    case = new_case()
    for action in (A.FILE, A.DISPATCH):
        with pytest.raises(PreconditionFailed, match="unlocated"):
            check_placed(case, action, unlocated=True)
        check_placed(case, action, unlocated=False)
    for action in (A.ACCEPT, A.SEND_VERIFY, A.CANCEL, A.MERGE, A.INSTRUCT):
        check_placed(case, action, unlocated=True)  # what needs no place goes on
    assert A.FILE in allowed_for(case, R.SHIFT_LEADER)
    assert allowed_for(case, R.SHIFT_LEADER, unlocated=True) == allowed_for(case, R.SHIFT_LEADER) - {A.FILE}
