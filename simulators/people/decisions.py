"""What a simulated person decides: pure functions of the scenario, the case as the API shows it, and a
random generator seeded per (person's role, case, step).

Seeding per case and step, not per person, makes a run's decisions independent of timing: the same case
gets the same dispatcher error, the same late handler and the same failed check whichever poll noticed
it first, so a test can state what must happen and a scenario can be replayed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from simulators.people.scenario import WEEKDAYS, Delay, Handling, Shift

CST = timezone(timedelta(hours=8))  # working hours are Beijing clock times
Z90 = 1.2815515655446004  # the standard normal's 90th percentile
TERMINAL = frozenset({"closed", "cancelled"})


def case_rng(seed: int, role: str, case_id: str, step: str) -> random.Random:
    """The generator for one decision of one role on one case (string seeds are stable across runs)."""
    return random.Random(f"{seed}:{role}:{case_id}:{step}")


def draw_minutes(delay: Delay, rng: random.Random) -> float:
    """Minutes from a log-normal with the delay's median and 90th percentile."""
    sigma = math.log(delay.p90 / delay.median) / Z90
    return delay.median * math.exp(sigma * rng.gauss(0.0, 1.0)) if sigma > 0 else delay.median


def on_duty(t: datetime, shift: Shift) -> bool:
    local = t.astimezone(CST)
    if WEEKDAYS[local.weekday()] not in shift.days:
        return False
    minute = local.hour * 60 + local.minute + local.second / 60
    return any(start <= minute < end for start, end in shift.periods())


def next_on_duty(t: datetime, shift: Shift) -> datetime:
    """`t` itself when on duty, else the start of the next working period (within a week)."""
    if on_duty(t, shift):
        return t
    local = t.astimezone(CST)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    for day in range(8):
        base = midnight + timedelta(days=day)
        if WEEKDAYS[base.weekday()] not in shift.days:
            continue
        for start, _ in sorted(shift.periods()):
            begin = base + timedelta(minutes=start)
            if begin > local:
                return begin.astimezone(t.tzinfo)
    raise ValueError(f"shift {shift.hours} on {shift.days} never starts")


def after_on_duty(t: datetime, minutes: float, shift: Shift) -> datetime:
    """`minutes` of on-duty time after `t` (off-duty time skipped): when the next of a stream of events that
    happen only in working hours (patrol reports, calls) comes."""
    remaining = timedelta(minutes=minutes)
    for _ in range(10_000):
        t = next_on_duty(t, shift)
        local = t.astimezone(CST)
        minute = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 6e7
        end = min(e for s_, e in shift.periods() if s_ <= minute < e)
        left = timedelta(minutes=end - minute)
        if remaining <= left:
            return t + remaining
        remaining -= left
        t = t + left
    raise ValueError(f"{minutes} on-duty minutes do not fit in the shift {shift.hours}")


def on_duty_minutes_per_day(shift: Shift) -> float:
    """On-duty minutes of an average day of the week."""
    return sum(e - s_ for s_, e in shift.periods()) * len(shift.days) / 7


def due_at(noticed: datetime, minutes: float, shift: Shift) -> datetime:
    """When a person acts: they notice work once on duty, take `minutes`, and finish on duty."""
    return next_on_duty(next_on_duty(noticed, shift) + timedelta(minutes=minutes), shift)


def responsible_department(category: str, cell: str | None, rules: Iterable[Mapping[str, Any]],
                           default: str | None = None) -> str | None:
    """The responsibility table's department (责任分解表): the exact category before its major, the longest
    matching cell prefix first; `default` when no rule matches (as the dispatcher's fallback)."""
    best: tuple[int, int, str] | None = None
    for rule in rules:
        code, prefix = str(rule["category_code"]), str(rule.get("grid_prefix") or "")
        if code not in (category, category[:3]) or not (cell or "").startswith(prefix):
            continue
        rank = (len(prefix), int(code == category), str(rule["department_id"]))
        if best is None or rank[:2] > best[:2]:
            best = rank
    return best[2] if best is not None else default


@dataclass(frozen=True, slots=True)
class DispatchChoice:
    department: str
    wrong: bool  # deliberately not the table's department (the dispatcher's error)


def choose_department(suggested: str | None, departments: Sequence[str], returned_from: Iterable[str],
                      wrong_rate: float, rng: random.Random, default: str | None = None) -> DispatchChoice | None:
    """The table's department, except for a share of first dispatches (`wrong_rate`) sent elsewhere; once a
    department returned the case the dispatcher follows the table. None: nobody to send it to."""
    right = suggested or default or (departments[0] if departments else None)
    if right is None:
        return None
    returned = set(returned_from)
    others = [d for d in departments if d != right and d not in returned]
    if not returned and others and rng.random() < wrong_rate:
        return DispatchChoice(rng.choice(others), True)
    return DispatchChoice(right, False)


def returns_case(own_department: str, responsible: str | None) -> bool:
    """A handler asks for a return (申请回退) when the table makes another department responsible."""
    return responsible is not None and responsible != own_department


@dataclass(frozen=True, slots=True)
class DisposalPlan:
    """How one round of disposal goes: minutes of work (simulated), lateness on the platform's clock,
    and whether more time is asked for first (申请延期)."""

    minutes: float
    late: bool
    late_by_min: float
    postpone: bool
    long: bool = False  # weeks of work: `long_days` asked for, disposed within them


def disposal_plan(handling: Handling, rng: random.Random) -> DisposalPlan:
    late = rng.random() < handling.late_rate
    postpone = rng.random() < handling.postpone_rate
    minutes, late_by = draw_minutes(handling.dispose, rng), draw_minutes(handling.late_by, rng)
    long = rng.random() < handling.long_rate  # drawn last: the earlier draws of a scenario without it stay as they were
    if long:
        minutes = handling.long_days * 1440 * rng.uniform(0.5, 0.9)
    return DisposalPlan(minutes, late and not long, late_by, postpone or long, long)


def hurry_at(deadline: datetime, now: datetime, margin: float = 0.2) -> datetime:
    """When an on-time handler stops waiting and acts: before the deadline by `margin` of the time left
    (at most 30 minutes), so that a run compressed in simulated time still meets the platform's deadlines."""
    left = max(timedelta(0), deadline - now)
    return deadline - min(left * margin, timedelta(minutes=30))


def check_passes(rng: random.Random, fail_rate: float, reworks: int, max_reworks: int) -> bool:
    """核查: the problem is solved, unless the check fails (at most `max_reworks` times per case)."""
    return reworks >= max_reworks or rng.random() >= fail_rate


def verification_confirms(rng: random.Random, refute_rate: float) -> bool:
    """核实: the reported problem is there, except for a share of reports where nothing is found."""
    return rng.random() >= refute_rate


def duplicate_of(case: Mapping[str, Any], others: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The earliest open case reported before `case` about the same category in the same cell: a second
    call about one problem (重复上报). Cases without a cell are never duplicates (nothing to compare)."""
    if not case.get("grid_cell_code"):
        return None
    earlier = [o for o in others if o["id"] != case["id"] and o["state"] not in TERMINAL
               and o.get("grid_cell_code") == case["grid_cell_code"]
               and o.get("category_code") == case.get("category_code")
               and str(o["reported_at"]) < str(case["reported_at"])]
    return min(earlier, key=lambda o: str(o["reported_at"])) if earlier else None


def mine(case_id: str, index: int, count: int) -> bool:
    """Colleagues in the same role split the work by case (a stable hash), so they never race."""
    return count <= 1 or int(case_id.replace("-", "")[:8], 16) % count == index


def call_gap_minutes(calls_per_day: float, rng: random.Random, on_duty_per_day: float = 1440.0) -> float:
    """On-duty minutes until the next call or report: a Poisson process of `calls_per_day` spread over the
    `on_duty_per_day` minutes a day the callers call (`after_on_duty` places it), so a day has about
    `calls_per_day` of them."""
    return rng.expovariate(calls_per_day / on_duty_per_day) if calls_per_day > 0 else math.inf


def pick_category(weights: Mapping[str, float], rng: random.Random) -> str:
    codes = sorted(weights)
    return rng.choices(codes, [weights[c] for c in codes])[0]
