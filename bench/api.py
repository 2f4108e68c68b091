"""API read latency over a large case record: the filtered case list and the CJ/T 292 scoring table.

Method (all on this machine, against a throwaway stack this script starts):
1. A synthetic county: 2,500 cells (50 × 50 jittered grid, 8 responsibility grids), 20
   departments, the users the tables rank. N cases (default 1 M) spread over two years are
   generated inside PostgreSQL (``INSERT … SELECT generate_series``: no client round trip,
   faster than COPY from Python); the most recent month's cases also get their full
   lifecycle event records (report → file → dispatch → sign → dispose → send_check →
   check_pass → close), which is what scoring replays.
2. ``civicgrid api`` runs as its own process (uvicorn, one worker), as in production.
3. Case list: a fixed rotation of realistic filters (state + department, street prefix +
   overdue, category major + one week, a community prefix, a second page by cursor), each
   request timed end to end over HTTP. Scoring: the department table of the loaded month;
   the scoring facts the case service keeps with each event (civicgrid/store/case_facts.py) are
   filled for the month's SQL-made events by `api.case_facts_cache.backfill` before the API starts
   (``facts_backfill_s``); the first (cold) call, the first after the API started, is reported
   apart; the p99 is over the warm calls.
Timings are printed, never asserted. Last line: JSON with cases, case_list_p50_ms,
case_list_p99_ms, scoring_p99_ms (docs/performance.md) and more.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from psycopg.types.json import Jsonb

from civicgrid.domain.synthetic import jittered_grid
from civicgrid.stack.ephemeral import as_environment, ephemeral_settings, free_ports, throwaway_stack
from civicgrid.store.db import connect

CATEGORIES = ["E0101", "E0102", "E0103", "E0104", "E0105", "E0106", "E0201", "E0301", "E0401", "E0404",
              "E0501", "E0504", "E0505", "E0507", "C0101", "C0102", "C0103", "C0118", "C0305", "C0402"]
STATES = ["closed"] * 18 + ["dispatched", "disposing", "filed", "reported", "checking", "cancelled"]
END = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 2026-12-01 00:00 in the city
SPAN = timedelta(days=730)
# The lifecycle of a closed case: (seq, action, from, to, role, actor, offset, data).
LIFE = [
    (2, "file", "reported", "filed", "shift_leader", "leader-1", "10 minutes"),
    (3, "dispatch", "filed", "dispatched", "dispatcher", "dispatcher-1", "25 minutes"),
    (4, "sign", "dispatched", "disposing", "department", "dept", "40 minutes"),
    (5, "dispose", "disposing", "disposed", "department", "dept", "3 hours"),
    (6, "send_check", "disposed", "checking", "operator", "operator-1", "3 hours 5 minutes"),
    (7, "check_pass", "checking", "checking", "inspector", "inspector-1", "3 hours 30 minutes"),
    (8, "close", "checking", "closed", "shift_leader", "leader-1", "3 hours 40 minutes"),
]


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def seed(conn, cases: int) -> tuple[list[str], datetime]:
    """Load the county and `cases` cases; return the cell codes and the start of the scored month."""
    cells = jittered_grid(50, 50)
    conn.execute("INSERT INTO departments (id, name) SELECT 'dept-' || i, '部门' || i FROM generate_series(1, 20) i")
    conn.execute("INSERT INTO responsibility_grids (id, name) SELECT 'G' || i, '网格' || i "
                 "FROM generate_series(1, 8) i")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO grid_cells (code, responsibility_grid_id, geometry, area_m2) "
                        "VALUES (%s, %s, %s, 10000)",
                        [(code, f"G{n * 8 // len(cells) + 1}", Jsonb(poly.__geo_interface__))
                         for n, (code, poly) in enumerate(cells)])
    codes = [c for c, _ in cells]
    t0 = time.perf_counter()
    conn.execute(
        "INSERT INTO cases (id, case_no, source, state, category_code, grid_cell_code, department_id, reported_at, "
        "disposal_deadline, closed_at, close_type, version, lon, lat, description, snapshot) "
        "SELECT gen_random_uuid(), 'B' || i, "
        "(ARRAY['inspector', 'inspector', 'inspector', 'hotline', 'camera'])[1 + i %% 5], "
        "st, (%(cats)s::text[])[1 + (i * 7) %% 20], (%(cells)s::text[])[1 + (i * 31) %% %(ncells)s], "
        "CASE WHEN st IN ('reported', 'filed', 'cancelled') THEN NULL ELSE 'dept-' || (1 + i %% 20) END, at, "
        "CASE WHEN st IN ('reported', 'filed', 'cancelled') THEN NULL ELSE at + interval '1 day' END, "
        "CASE WHEN st = 'closed' THEN at + interval '4 hours' END, CASE WHEN st = 'closed' THEN 'normal' END, "
        "CASE WHEN st = 'closed' THEN 8 ELSE 1 END, 116.94 + (i %% 500) * 1e-5, 31.46 + (i %% 300) * 1e-5, 'bench', "
        # dispatched_at, so that listed open cases get their time-limit light computed as in a real city
        "CASE WHEN st IN ('reported', 'filed', 'cancelled') THEN '{}'::jsonb "
        "ELSE jsonb_build_object('dispatched_at', at) END "
        "FROM (SELECT i, (%(states)s::text[])[1 + (i * 13) %% %(nstates)s] AS st, "
        "%(end)s::timestamptz - (i * %(step)s::double precision) * interval '1 second' AS at "
        "FROM generate_series(1, %(n)s) i) g",
        {"cats": CATEGORIES, "cells": codes, "ncells": len(codes), "states": STATES, "nstates": len(STATES),
         "end": END, "step": SPAN.total_seconds() / cases, "n": cases})
    say(f"{cases} cases inserted in {time.perf_counter() - t0:.1f} s")
    month = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 2026-11-01 00:00 in the city
    t0 = time.perf_counter()
    record = ("jsonb_build_object('case_id', c.id::text, 'seq', {seq}, 'action', {action}, 'from_state', {src}, "
              "'to_state', {dst}, 'role', {role}, 'actor', {actor}, 'at', "
              "to_char((c.reported_at + {off}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"'), "
              "'data', {data}, 'source', c.source, 'category', c.category_code, 'cell', c.grid_cell_code, "
              "'department', c.department_id)")
    conn.execute(
        "INSERT INTO case_events (time, case_id, seq, action, from_state, to_state, actor, role, payload) "
        "SELECT c.reported_at, c.id, 1, 'report', NULL, 'reported', 'inspector-1', 'inspector', "
        + record.format(seq=1, action="'report'", src="NULL", dst="'reported'", role="'inspector'",
                        actor="'inspector-1'", off="interval '0'", data="jsonb_build_object('category', "
                        "c.category_code, 'cell', c.grid_cell_code)")
        + " FROM cases c WHERE c.reported_at >= %s", (month,))
    for seq, action, src, dst, role, actor, off in LIFE:
        data = {"file": "jsonb_build_object('category', c.category_code)",
                "dispatch": "jsonb_build_object('department', c.department_id)",
                "dispose": "jsonb_build_object('note', 'done')"}.get(action, "'{}'::jsonb")
        conn.execute(
            "INSERT INTO case_events (time, case_id, seq, action, from_state, to_state, actor, role, payload) "
            f"SELECT c.reported_at + interval '{off}', c.id, {seq}, '{action}', '{src}', '{dst}', '{actor}', "
            f"'{role}', "
            + record.format(seq=seq, action=f"'{action}'", src=f"'{src}'", dst=f"'{dst}'", role=f"'{role}'",
                            actor=f"'{actor}'", off=f"interval '{off}'", data=data)
            + " FROM cases c WHERE c.reported_at >= %s AND c.state = 'closed'", (month,))
    events = conn.execute("SELECT count(*) FROM case_events").fetchone()[0]
    say(f"{events} event records for the scored month in {time.perf_counter() - t0:.1f} s")
    conn.execute("TRUNCATE feed_events")  # the triggers fed the live feed; irrelevant here
    conn.execute("VACUUM ANALYZE cases")
    conn.execute("VACUUM ANALYZE case_events")
    return codes, month


def start_api(settings, port: int, log_path, wait_s: float = 60.0) -> subprocess.Popen:
    env = {**os.environ, **as_environment(settings), "CIVICGRID_API__PORT": str(port),
           "CIVICGRID_API__MEDIA_DIR": str(settings.stack.var_dir / "media")}
    proc = subprocess.Popen([sys.executable, "-m", "civicgrid.cli", "api"], env=env, stdout=log_path.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.terminate()
    # The stack's directory goes with the run (unless --keep): the log's end is printed here.
    tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
    raise RuntimeError(f"the API did not start within {wait_s:.0f} s; the end of its log:\n{tail}")


def timed(client: httpx.Client, url: str, params: dict) -> tuple[float, httpx.Response]:
    t0 = time.perf_counter()
    r = client.get(url, params=params)
    ms = (time.perf_counter() - t0) * 1000
    r.raise_for_status()
    return ms, r


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(client: httpx.Client, codes: list[str], month: datetime, list_requests: int,
            scoring_requests: int) -> dict:
    week = month + timedelta(days=7)
    filters = [
        {"state": "dispatched", "department_id": "dept-3"},
        {"cell_prefix": codes[400][:9], "overdue": "true"},
        {"category_code": "E01", "reported_from": month.isoformat(), "reported_to": week.isoformat()},
        {"cell_prefix": codes[1234][:12], "state": ["closed", "checking"]},
        {"source": "hotline", "state": "reported"},
        {},
    ]
    list_ms: list[float] = []
    by_filter: dict[str, list[float]] = {}  # which filter the slow requests were
    lit = 0  # items that came with a time-limit light (computed per open, dispatched case)
    for n in range(list_requests):
        params = {**filters[n % len(filters)], "limit": 50}
        ms, r = timed(client, "/cases", params)
        list_ms.append(ms)
        by_filter.setdefault(",".join(sorted(filters[n % len(filters)])) or "none", []).append(ms)
        lit += sum(1 for item in r.json()["items"] if item["light"])
        if n % len(filters) == 0 and r.json()["next_cursor"]:  # and the next page of it
            ms, _ = timed(client, "/cases", {**params, "cursor": r.json()["next_cursor"]})
            list_ms.append(ms)
            by_filter.setdefault("next page", []).append(ms)
    day = (month + timedelta(days=10)).date().isoformat()
    cold_ms, r = timed(client, "/scoring/department", {"period": "month", "day": day})
    scored = r.json()["cases"]
    scoring_ms = [timed(client, "/scoring/department", {"period": "month", "day": day})[0]
                  for _ in range(scoring_requests)]
    region_ms = [timed(client, "/scoring/region", {"period": "month", "day": day, "region_level": "community"})[0]
                 for _ in range(max(3, scoring_requests // 3))]
    return {
        "case_list_p50_ms": round(statistics.median(list_ms), 2), "case_list_p99_ms": round(pct(list_ms, 0.99), 2),
        "case_list_requests": len(list_ms), "case_list_lit_items": lit,
        "case_list_by_filter_ms": {name: {"p50": round(statistics.median(v), 2), "max": round(max(v), 2)}
                                   for name, v in by_filter.items()},
        "scoring_p50_ms": round(statistics.median(scoring_ms), 1),
        "scoring_p99_ms": round(pct(scoring_ms, 0.99), 1), "scoring_cold_ms": round(cold_ms, 1),
        "scoring_region_p99_ms": round(pct(region_ms, 0.99), 1), "scored_cases": scored,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--list-requests", type=int, default=300)
    parser.add_argument("--scoring-requests", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the stack's directory for inspection")
    parser.add_argument("--api-start-s", type=float, default=60.0,
                        help="how long the API may take to answer /healthz (10 M cases on a busy machine: more)")
    args = parser.parse_args()
    # Run as `python bench/api.py`, this file's directory is first on sys.path and its name
    # shadows the `api` package: put the repository root there instead.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    from api.case_facts_cache import backfill
    from api.users import add_user
    from civicgrid.cases.rulebook import RuleBook

    settings = ephemeral_settings(prefix="civicgrid-bench-")
    base = settings.stack.var_dir.parent
    api = None
    with throwaway_stack(settings, keep=args.keep, progress=lambda m: say(f"stack {m}")):
        try:
            t0 = time.perf_counter()
            with connect(settings.db, autocommit=True) as conn:
                codes, month = seed(conn, args.cases)
                load_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                filled = backfill(RuleBook(loaded_by="bench"), conn, month, END + timedelta(days=1))
                backfill_s = time.perf_counter() - t0
                say(f"scoring facts of {filled} cases filled in {backfill_s:.1f} s")
            password = add_user(settings, "bench-admin", "admin")
            for n, role in enumerate(["dispatcher", "dispatcher", "inspector", "operator", "shift_leader"]):
                add_user(settings, f"{role}-{n}", role)
            (port,) = free_ports(1)
            api = start_api(settings, port, base / "api.log", args.api_start_s)
            token = httpx.post(f"http://127.0.0.1:{port}/auth/token",
                               data={"username": "bench-admin", "password": password}).json()["access_token"]
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"},
                              timeout=600) as client:
                figures = measure(client, codes, month, args.list_requests, args.scoring_requests)
        finally:
            if api is not None:
                api.terminate()
                api.wait(30)
    say(f"case list p50 {figures['case_list_p50_ms']} ms, p99 {figures['case_list_p99_ms']} ms; scoring p99 "
        f"{figures['scoring_p99_ms']} ms (cold {figures['scoring_cold_ms']} ms over {figures['scored_cases']} cases)")
    print(json.dumps({"cases": args.cases, **figures, "load_s": round(load_s, 1),
                      "facts_backfill_s": round(backfill_s, 1), "cores": os.cpu_count()}))


if __name__ == "__main__":
    main()
