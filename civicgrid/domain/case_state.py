"""The values the case lifecycle works on: states, actions, roles, the case, commands
and transitions (the event records that the API and streams persist and publish).
The rules that connect them are in `lifecycle.py`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any

from civicgrid.domain.errors import DomainError
from civicgrid.domain.time_limits import DisposalClass, Limit


class State(StrEnum):
    """Case states (docs/domain.md §4); `closed` and `cancelled` are terminal."""

    REPORTED = "reported"  # 上报
    VERIFYING = "verifying"  # 核实中
    FILED = "filed"  # 立案
    DISPATCHED = "dispatched"  # 派遣
    DISPOSING = "disposing"  # 处置中 (signed for)
    DISPOSED = "disposed"  # 处置反馈
    CHECKING = "checking"  # 核查中
    CLOSED = "closed"  # 结案
    SUSPENDED = "suspended"  # 挂账
    CANCELLED = "cancelled"  # 作废


TERMINAL = frozenset({State.CLOSED, State.CANCELLED})


class Action(StrEnum):
    REPORT = "report"
    ACCEPT = "accept"  # 受理: an operator takes a report in (the accept limit's clock stops)
    MERGE = "merge"  # 合并: a repeat report joins the open case about the same problem → cancelled
    SEND_VERIFY = "send_verify"
    CONFIRM = "confirm"
    REFUTE = "refute"
    FILE = "file"
    SELF_HANDLE = "self_handle"
    DISPATCH = "dispatch"
    SIGN = "sign"
    DISPOSE = "dispose"
    REQUEST_RETURN = "request_return"
    APPROVE_RETURN = "approve_return"
    REQUEST_POSTPONE = "request_postpone"
    APPROVE_POSTPONE = "approve_postpone"
    REJECT_REQUEST = "reject_request"
    URGE = "urge"
    SEND_CHECK = "send_check"
    CHECK_PASS = "check_pass"
    CHECK_FAIL = "check_fail"
    CLOSE = "close"
    SUSPEND = "suspend"
    RESUME = "resume"
    CANCEL = "cancel"
    INSTRUCT = "instruct"
    ESCALATE = "escalate"  # 上报上级: a district centre hands the case to the centre above (docs/centres.md)
    TRANSFER = "transfer"  # 转办: the case goes to another centre (a neighbouring district), its timeline kept
    OVERDUE = "overdue"  # 超期: recorded by the deadline watch when a deadline passes (no person takes it)
    DEADLINE_WARNING = "deadline_warning"  # 预警: recorded by the deadline watch at 80 % of a step's limit


class Role(StrEnum):
    INSPECTOR = "inspector"  # 监督员 / 信息采集员
    OPERATOR = "operator"  # 受理员 / 坐席员
    SHIFT_LEADER = "shift_leader"  # 值班长
    DISPATCHER = "dispatcher"  # 派遣员
    DEPARTMENT = "department"  # 专业部门
    LEADER = "leader"  # 领导
    ADMIN = "admin"


class Source(StrEnum):
    """Where a case came from (docs/domain.md §4)."""

    INSPECTOR = "inspector"  # patrol report
    CAMERA = "camera"  # 视频抓拍
    HOTLINE = "hotline"  # 12319 / 12345 / Open311
    LEADER = "leader"  # leader's instruction
    TRANSFER = "transfer"  # from another body
    SENSOR = "sensor"  # IoT device alarm


class CloseType(StrEnum):
    NORMAL = "normal"  # 正常 (on time)
    OVERDUE = "overdue"  # 超时
    SPECIAL = "special"  # 特殊


class PendingKind(StrEnum):
    RETURN = "return"
    POSTPONE = "postpone"


class LifecycleError(DomainError):
    """Base of the errors `lifecycle.apply` raises."""


class IllegalTransition(LifecycleError):
    def __init__(self, state: State | None, action: str, allowed: frozenset[Action] | tuple[Action, ...]) -> None:
        self.state = state
        self.action = action
        self.allowed = tuple(sorted(allowed))
        names = ", ".join(a.value for a in self.allowed) or "none (terminal state)"
        super().__init__(f"action {action!r} is not possible in state {state}; allowed: {names}")


class RoleNotAllowed(LifecycleError):
    def __init__(self, role: str, action: Action, allowed: frozenset[Role]) -> None:
        self.role = role
        self.action = action
        self.allowed = tuple(sorted(allowed))
        super().__init__(
            f"role {role!r} may not {action.value}; allowed roles: {', '.join(self.allowed) or 'none'}"
        )


class MissingTransitionData(LifecycleError):
    def __init__(self, action: Action, missing: tuple[str, ...], detail: str = "") -> None:
        self.action = action
        self.missing = missing
        text = f"action {action.value} needs {', '.join(missing)}"
        super().__init__(f"{text}: {detail}" if detail else text)


class PreconditionFailed(LifecycleError):
    """The action is legal in this state, but not for this case (e.g. closing before the check)."""

    def __init__(self, state: State, action: Action, reason: str) -> None:
        self.state = state
        self.action = action
        self.reason = reason
        super().__init__(f"cannot {action.value} in state {state}: {reason}")


@dataclass(frozen=True, slots=True)
class Pending:
    """A department's request awaiting the dispatcher's decision."""

    kind: PendingKind
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CaseState:
    """A case as the lifecycle sees it. Changed only by `lifecycle.apply`, which returns a new one."""

    id: str
    state: State
    source: Source
    reported_at: datetime
    state_since: datetime
    version: int = 1  # number of transitions so far (the report is 1)
    category: str | None = None
    disposal_class: DisposalClass | None = None
    cell: str | None = None
    department: str | None = None
    accepted_at: datetime | None = None  # 受理
    merged_into: str | None = None  # the case a repeat report was merged into (合并)
    verified: bool = False  # 核实属实
    check_passed: bool = False  # 核查通过 since the last (re)dispatch
    self_handled: bool = False
    reworks: int = 0  # 返工
    returns: int = 0  # 回退
    postponements: int = 0  # 延期
    urges: int = 0  # 督办
    extensions: tuple[Limit, ...] = ()
    suspended_from: State | None = None
    suspended_at: datetime | None = None
    pending: Pending | None = None
    dispatched_at: datetime | None = None
    disposed_at: datetime | None = None
    disposal_deadline: datetime | None = None
    close_type: CloseType | None = None


@dataclass(frozen=True, slots=True)
class Command:
    """A request to change a case: who (role, actor) wants which action, with its data."""

    action: Action
    role: Role
    actor: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Transition:
    """One lifecycle step: the event record plus the case after it."""

    case_id: str
    seq: int
    action: Action
    from_state: State | None
    to_state: State
    role: Role
    actor: str
    at: datetime
    data: Mapping[str, Any]
    case: CaseState

    def record(self) -> dict[str, Any]:
        """JSON-ready event record (snake_case, ISO 8601 times) for cg.case-events and case_events."""
        return {
            "case_id": self.case_id,
            "seq": self.seq,
            "action": self.action.value,
            "from_state": None if self.from_state is None else self.from_state.value,
            "to_state": self.to_state.value,
            "role": self.role.value,
            "actor": self.actor,
            "at": self.at.isoformat(),
            "data": {k: _jsonable(v) for k, v in sorted(self.data.items())},
            "source": self.case.source.value,
            "category": self.case.category,
            "cell": self.case.cell,
            "department": self.case.department,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Limit):
        return value.as_json()
    return value
