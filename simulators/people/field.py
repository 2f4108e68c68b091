"""The people outside the centre who work on cases: the departments' handlers and the inspectors.

- Department handler (专业部门): signs for a case (签收), or asks for it to be returned (申请回退) when
  the responsibility table makes another department responsible; disposes (处置反馈) after the
  scenario's delay, sometimes only after the platform's deadline has passed (late on the platform's
  clock, so the light turns red and the department's on-time rate drops), sometimes asking for more
  time first (申请延期). An on-time handler never lets the platform's deadline pass: a run compressed
  in simulated time still meets deadlines that the API counts in real time.
- Inspector (监督员) answering 核实 / 核查 tasks that reached no handheld (the task's `data.task` is
  null): through the API, as the handheld app would. Tasks a handheld received are the handheld
  simulator's (simulators/mobile.py answers them over MQTT), so the two never race.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

from simulators.people.client import Console
from simulators.people.decisions import (
    check_passes,
    disposal_plan,
    due_at,
    hurry_at,
    responsible_department,
    returns_case,
    verification_confirms,
)
from simulators.people.person import Person, Plan, World, last_event
from simulators.people.scenario import Handling


class DepartmentHandler(Person):
    role: ClassVar[str] = "department"
    states: ClassVar[tuple[str, ...]] = ("dispatched", "disposing")

    def __init__(self, console: Console, world: World, department: str, handling: Handling) -> None:
        super().__init__(console, world, handling.shift)
        self.department, self.handling = department, handling

    async def plan(self, case: dict[str, Any]) -> Plan | None:
        if case.get("pending") or case.get("department_id") != self.department:
            return None  # waiting for the dispatcher's answer
        rounds = f"{case['rework_count']}-{case['return_count']}"  # a new draw after each rework or return
        return self._take(case, rounds) if case["state"] == "dispatched" else self._dispose(case, rounds)

    def _take(self, case: dict[str, Any], rounds: str) -> Plan:
        """签收, or 申请回退 when the table makes another department responsible."""
        h, v = self.handling, case["version"]
        responsible = responsible_department(case["category_code"], case.get("grid_cell_code"), self.world.rules,
                                             self.world.scenario.dispatchers.default_department)
        if returns_case(self.department, responsible):
            return Plan("request_return", v, self.due(case["id"], f"return{rounds}", h.request_return),
                        body={"reason": f"非本部门职责，应由 {responsible} 处置 (not ours: {responsible})"},
                        note="return_requested")
        return Plan("sign", v, self.due(case["id"], f"sign{rounds}", h.sign))

    def _dispose(self, case: dict[str, Any], rounds: str) -> Plan:
        """处置反馈 on time (before the platform's deadline) or late (after it), perhaps 申请延期 first."""
        h, v = self.handling, case["version"]
        plan = disposal_plan(h, self.rng(case["id"], f"dispose{rounds}"))
        if plan.postpone and case["postpone_count"] == 0:
            days, reason = ((h.long_days, "需要立项施工，申请延期 (works to plan)") if plan.long
                            else (h.postpone_days, "需要采购材料，申请延期 (materials to buy)"))
            return Plan("request_postpone", v, self.due(case["id"], "postpone", h.sign),
                        body={"extension": {"amount": days, "unit": "days"}, "reason": reason},
                        note="long_works" if plan.long else "postpone_requested")
        noticed = self.noticed.setdefault((case["id"], f"dispose{rounds}"), self.world.clock.now())
        due = due_at(noticed, plan.minutes, self.shift)
        deadline = datetime.fromisoformat(case["disposal_deadline"]) if case.get("disposal_deadline") else None
        body = {"note": "已处置完毕 (disposed)", "public_note": "问题已处置，等待核查"}
        if deadline is None:
            return Plan("dispose", v, due, body=body)
        if plan.long:  # works that take weeks, within the extended deadline
            return Plan("dispose", v, min(due, deadline - timedelta(hours=1)), body=body, note="long_works_done")
        if plan.late:
            return Plan("dispose", v, due, body=body, not_before=deadline + timedelta(minutes=plan.late_by_min),
                        note="disposed_late")
        return Plan("dispose", v, due, body=body, hurry_at=hurry_at(deadline, self.world.platform.now()))


class Inspector(Person):
    role: ClassVar[str] = "inspector"
    states: ClassVar[tuple[str, ...]] = ("verifying", "checking")

    async def plan(self, case: dict[str, Any]) -> Plan | None:
        cfg, v = self.world.scenario.inspectors, case["version"]
        if case["state"] == "checking" and case.get("check_passed"):
            return None  # the shift leader's to close
        if not cfg.answer_handheld_tasks and await self._on_a_handheld(case):
            return None  # the handheld simulator answers it
        if case["state"] == "verifying":
            due = self.due(case["id"], "verify", cfg.answer)
            if verification_confirms(self.rng(case["id"], "verify"), cfg.refute_rate):
                return Plan("confirm", v, due, body={"note": "现场核实属实 (confirmed on site)"})
            return Plan("refute", v, due, body={"reason": "现场未发现所述问题 (nothing found)"}, note="refuted")
        step = f"check{case['rework_count']}"
        due = self.due(case["id"], step, cfg.answer)
        if check_passes(self.rng(case["id"], step), cfg.check_fail_rate, case["rework_count"], cfg.max_reworks):
            return Plan("check_pass", v, due, body={"note": "现场核查已处置 (fixed)"})
        return Plan("check_fail", v, due, body={"reason": "现场问题未解决，返工 (not fixed: rework)"},
                    note="check_failed")

    async def _on_a_handheld(self, case: dict[str, Any]) -> bool:
        """Whether the latest 派核实 / 派核查 reached a handheld (its transition's `data.task`)."""
        detail = await self.console.case(case["id"])
        sent = last_event(detail, ("send_verify",) if case["state"] == "verifying" else ("send_check",))
        return sent is None or bool((sent.get("data") or {}).get("task"))
