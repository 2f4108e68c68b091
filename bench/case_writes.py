"""The case service's write cost: a transition's wall time and CPU (this process and PostgreSQL), per step.

Method (on this machine, against a throwaway stack this script starts): one department, one unit grid cell;
N cases (default 2,000) each driven through the whole lifecycle — report, file, dispatch, sign, dispose,
send_check, check_pass, close — by `civicgrid.cases.CaseService` on one connection, as the API drives it for
one request at a time. Every transition writes its case row, event, outbox row, scoring facts and the facts'
daily rollups in one transaction (docs/domain.md §6). Reported: µs of wall time per transition (p50 and p99),
and the CPU µs per transition of this process and of PostgreSQL's processes over the run. Timings are printed,
never asserted. Last line: JSON (docs/performance.md, "How the benchmarks report").

    .venv/bin/python bench/case_writes.py [--cases 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository, not bench/, first

from bench._measure import cpu_of, percentile  # noqa: E402
from civicgrid.cases import CaseService  # noqa: E402
from civicgrid.cases.intake import NewCase  # noqa: E402
from civicgrid.cases.rulebook import RuleBook  # noqa: E402
from civicgrid.domain.case_state import Action, Role, Source  # noqa: E402
from civicgrid.stack.ephemeral import ephemeral_settings, throwaway_stack  # noqa: E402
from civicgrid.store.db import connect  # noqa: E402

PATH = [(Action.FILE, Role.SHIFT_LEADER), (Action.DISPATCH, Role.DISPATCHER), (Action.SIGN, Role.DEPARTMENT),
        (Action.DISPOSE, Role.DEPARTMENT), (Action.SEND_CHECK, Role.OPERATOR), (Action.CHECK_PASS, Role.INSPECTOR),
        (Action.CLOSE, Role.SHIFT_LEADER)]


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _postgres_pids(var_dir: Path) -> list[int]:
    pid = int((var_dir / "pg" / "postmaster.pid").read_text().split()[0])
    return [pid]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2_000)
    args = parser.parse_args()
    settings = ephemeral_settings(prefix="civicgrid-bench-")
    with throwaway_stack(settings, progress=lambda m: say(f"stack {m}")), \
            connect(settings.db, autocommit=True) as db:
        ring = orjson.dumps({"type": "Polygon", "coordinates": [[[117.0, 31.5], [117.001, 31.5], [117.001, 31.501],
                                                                 [117.0, 31.5]]]}).decode()
        cell, department = "34152300100101", f"dept-{uuid.uuid4().hex[:6]}"
        db.execute("INSERT INTO grid_cells (code, geometry, area_m2) VALUES (%s, %s, 10000)", (cell, ring))
        db.execute("INSERT INTO departments (id, name) VALUES (%s, '市政')", (department,))
        service = CaseService(RuleBook(loaded_by="bench"))
        at = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
        data = {Action.FILE: {"category": "E0102"}, Action.DISPATCH: {"department": department}}
        postgres = _postgres_pids(settings.stack.var_dir)
        service.report(db, Role.INSPECTOR, "warm-up", NewCase("E0102", "warm", Source.INSPECTOR, grid_cell_code=cell),
                       at, lambda lon, lat: cell)
        wall_us: dict[str, list[float]] = {a.value: [] for a, _ in [(Action.REPORT, None), *PATH]}
        cpu0, pg0, t0 = time.process_time(), cpu_of(postgres), time.perf_counter()
        for n in range(args.cases):
            when = at + timedelta(minutes=n)
            start = time.perf_counter()
            case_id, _ = service.report(db, Role.INSPECTOR, "insp", NewCase("E0102", f"bench {n}", Source.INSPECTOR,
                                                                            grid_cell_code=cell), when,
                                        lambda lon, lat: cell)
            wall_us["report"].append((time.perf_counter() - start) * 1e6)
            for step, (action, role) in enumerate(PATH, 1):
                start = time.perf_counter()
                service.act(db, role, role.value, case_id, action, data.get(action, {"note": "ok"}), (),
                            when + timedelta(minutes=5 * step))
                wall_us[action.value].append((time.perf_counter() - start) * 1e6)
        elapsed = time.perf_counter() - t0
        cpu, pg = time.process_time() - cpu0, cpu_of(postgres) - pg0
    transitions = args.cases * (len(PATH) + 1)
    every = [v for values in wall_us.values() for v in values]
    figures = {
        "cases": args.cases, "transitions": transitions, "transitions_per_s": round(transitions / elapsed, 1),
        "transition_p50_us": round(percentile(every, 0.5) or 0, 1), "transition_p99_us": round(
            percentile(every, 0.99) or 0, 1),
        "service_cpu_us_per_transition": round(cpu / transitions * 1e6, 1),
        "postgres_cpu_us_per_transition": round(pg / transitions * 1e6, 1),
        "p50_us_by_step": {k: round(percentile(v, 0.5) or 0, 1) for k, v in wall_us.items()},
        "cores": os.cpu_count(),
    }
    say(f"{transitions} transitions in {elapsed:.1f} s: p50 {figures['transition_p50_us']} µs, service CPU "
        f"{figures['service_cpu_us_per_transition']} µs and PostgreSQL {figures['postgres_cpu_us_per_transition']} "
        "µs a transition")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
