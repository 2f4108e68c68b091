"""The supervision and command centre's staff (监督指挥中心): operators, shift leaders, dispatchers.

- Operator (受理员): accepts every report (受理); sends public reports (hotline, leader, transfer) to an
  inspector to verify (派核实), after checking that the call is not a repeat of an open case (same category,
  same cell), which is merged into that case instead (合并); sends disposed cases to the check (派核查).
- Shift leader (值班长): files what is ready (立案: an accepted report from an inspector, a camera or a
  device, or a verified public report) and closes cases whose check passed (结案). In this city the
  permission table gives filing and closing to the shift leader, not the operator (docs/domain.md §1).
- Dispatcher (派遣员): dispatches filed cases to the responsibility table's department (the API's
  suggestion), sometimes to a wrong one (the scenario's rate; that department asks for a return), and
  approves the departments' requests for a return or more time.

What a step depends on (accepted, verified, check passed) is read from the work list's items.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

from simulators.people.decisions import choose_department, duplicate_of
from simulators.people.person import Person, Plan

OPEN_STATES = ["reported", "verifying", "filed", "dispatched", "disposing", "disposed", "checking", "suspended"]


class Operator(Person):
    role: ClassVar[str] = "operator"
    states: ClassVar[tuple[str, ...]] = ("reported", "disposed")

    async def plan(self, case: dict[str, Any]) -> Plan | None:
        cfg = self.world.scenario.operators
        if case["state"] == "disposed":
            return Plan("send_check", case["version"], self.due(case["id"], "send_check", cfg.send_check))
        if case.get("accepted_at") is None:
            return Plan("accept", case["version"], self.due(case["id"], "accept", cfg.accept))
        if case["source"] not in cfg.verify_sources or case.get("verified"):
            return None  # the shift leader's to file
        original = await self.repeated(case)
        if original is not None:
            return Plan("merge", case["version"], self.due(case["id"], "duplicate", cfg.send_verify),
                        body={"into": original["id"],
                              "note": f"重复上报: 与案件 {original.get('case_no')} 为同一问题 (duplicate)",
                              "public_note": f"已并入案件 {original.get('case_no')} 办理"}, note="duplicate_merged")
        return Plan("send_verify", case["version"], self.due(case["id"], "send_verify", cfg.send_verify))

    async def repeated(self, case: dict[str, Any]) -> dict[str, Any] | None:
        """An earlier open case about the same problem (same category and cell), found in the case list."""
        if not case.get("grid_cell_code"):
            return None
        since = datetime.fromisoformat(case["reported_at"]) - timedelta(hours=self.world.scenario.operators
                                                                         .duplicate_window_h)
        earlier = await self.console.cases(OPEN_STATES, category_code=case["category_code"],
                                           cell_prefix=case["grid_cell_code"], reported_from=since.isoformat(),
                                           reported_to=case["reported_at"])
        found = duplicate_of(case, earlier)
        return dict(found) if found is not None else None


class ShiftLeader(Person):
    role: ClassVar[str] = "shift_leader"
    states: ClassVar[tuple[str, ...]] = ("reported", "checking")

    async def plan(self, case: dict[str, Any]) -> Plan | None:
        cfg = self.world.scenario.shift_leaders
        if case["state"] == "checking":
            if not case.get("check_passed"):
                return None
            return Plan("close", case["version"], self.due(case["id"], f"close{case['rework_count']}", cfg.close))
        if case.get("accepted_at") is None:
            return None  # the operator accepts it first
        if case["source"] in self.world.scenario.operators.verify_sources and not case.get("verified"):
            return None  # the operator sends it to verification first
        return Plan("file", case["version"], self.due(case["id"], "file", cfg.file))


class Dispatcher(Person):
    role: ClassVar[str] = "dispatcher"
    states: ClassVar[tuple[str, ...]] = ("filed", "dispatched", "disposing")

    async def plan(self, case: dict[str, Any]) -> Plan | None:
        cfg = self.world.scenario.dispatchers
        if case["state"] == "filed":
            detail = await self.console.case(case["id"])
            returned = {str(e["data"].get("department")) for e in detail.get("timeline") or []
                        if e["action"] == "dispatch" and isinstance(e.get("data"), dict)}
            choice = choose_department(detail.get("suggested_department_id"), self.world.departments, returned,
                                       cfg.wrong_department_rate, self.rng(case["id"], f"dispatch{len(returned)}"),
                                       cfg.default_department)
            if choice is None:
                return None
            return Plan("dispatch", case["version"], self.due(case["id"], f"dispatch{len(returned)}", cfg.dispatch),
                        body={"department_id": choice.department},
                        note="wrong_department" if choice.wrong else "")
        pending = case.get("pending")
        if pending == "return":
            return Plan("approve_return", case["version"],
                        self.due(case["id"], f"return{case['return_count']}", cfg.approve))
        if pending == "postpone":
            return Plan("approve_postpone", case["version"],
                        self.due(case["id"], f"postpone{case['postpone_count']}", cfg.approve))
        return None
