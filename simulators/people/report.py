"""The county month's report: what the run's cases did, read from the case record, as JSON and Markdown.

The run's cases are those its own people and callers reported (the first event's actor is one of the run's
users), so a database with other cases in it reports the run alone. Figures:

- cases by source, beside the seed's mix (Shucheng: 95 % inspectors, 3 % video, 2 % 12319);
- closure: of the cases reported in the month and not cancelled (refuted, merged as repeats), the share closed
  by the month's end (the seed's 97.5 % is this figure), and the share closed once the drain ended;
- on-time rates per step, rework and return rates, the median and 90th percentile from report to close;
- the region (responsibility grid), department and post tables, computed with civicgrid.domain.scoring over
  the run's cases (the functions GET /scoring uses) under the shipped rules;
- every case still open at the end with its reason: the plan a simulated person holds for it.

This module reads the database as a measuring instrument; the people themselves only use the API.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from civicgrid.cases import default_rules
from civicgrid.domain import scoring as sc
from civicgrid.domain.case_facts import CaseFacts, case_facts

SYSTEM_ACTORS = ("system:deadline-watch",)


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    month_end: datetime
    end: datetime  # the drain's end (or when every case was done)


def run_case_ids(conn: psycopg.Connection, users: Iterable[str], period: Period) -> list[str]:
    """The cases the run's people reported in the period (first event's actor among `users`)."""
    rows = conn.execute("SELECT case_id::text FROM case_events WHERE seq = 1 AND actor = ANY(%s) "
                        "AND time >= %s AND time < %s", (list(users), period.start, period.end)).fetchall()
    return [r[0] for r in rows]


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def _ratio(r: sc.Ratio) -> dict[str, Any]:
    return {"pct": None if r.share is None else round(100 * r.share, 2), "numerator": r.numerator,
            "denominator": r.denominator}


def _table(rows: Iterable[sc.Evaluation]) -> list[dict[str, Any]]:
    return [{"rank": n, "subject": e.subject, "score": None if e.score is None else round(e.score, 1), "grade": e.grade,
             "indicators": {k: None if v is None else round(v, 4) for k, v in e.indicators.items()}}
            for n, e in sc.rank(rows)]


def build_report(conn: psycopg.Connection, case_ids: list[str], period: Period,
                 open_reasons: Mapping[str, str], seed: Mapping[str, Any]) -> dict[str, Any]:
    rows = conn.execute(
        "SELECT id::text, source, state, reported_at, closed_at, rework_count, return_count, department_id, "
        "grid_cell_code, snapshot ->> 'merged_into' FROM cases WHERE id = ANY(%s::uuid[])", (case_ids,)).fetchall()
    records = [r[0] for r in conn.execute("SELECT payload FROM case_events WHERE case_id = ANY(%s::uuid[]) "
                                          "ORDER BY case_id, seq", (case_ids,)).fetchall()]
    rules = default_rules()
    facts = case_facts(records, rules.limits, rules.calendar, catalogue=rules.catalogue)
    in_month = [r for r in rows if r[3] < period.month_end]
    by_source = Counter(r[1] for r in in_month)
    cancelled = Counter(r[1] for r in in_month if r[2] == "cancelled")
    merged = sum(1 for r in in_month if r[9])
    live = [r for r in in_month if r[2] != "cancelled"]
    closed_by_month_end = sum(1 for r in live if r[4] is not None and r[4] <= period.month_end)
    closed_at_end = sum(1 for r in live if r[2] == "closed")
    # A month's last day is still in hand at its end; a nine-month figure such as the seed's has that tail too,
    # but as one day in 270. Counted apart so the two can be set side by side (docs/county-month.md).
    earlier = [r for r in live if r[3] < period.month_end - timedelta(days=1)]
    earlier_closed = sum(1 for r in earlier if r[4] is not None and r[4] <= period.month_end)
    hours = sorted((r[4] - r[3]).total_seconds() / 3600 for r in rows if r[2] == "closed" and r[4] is not None)
    dispatched = [f for f in facts if f.dispatched]
    disposed = [f for f in facts if f.disposals]
    report: dict[str, Any] = {
        "period": {"start": period.start.isoformat(), "month_end": period.month_end.isoformat(),
                   "end": period.end.isoformat(),
                   "days": round((period.month_end - period.start).total_seconds() / 86400, 3)},
        "cases": len(in_month),
        "cases_after_the_month": len(rows) - len(in_month),
        "by_source": {s: {"cases": n, "pct": _pct(n, len(in_month))} for s, n in by_source.most_common()},
        "seed_source_mix_pct": dict(seed.get("source_mix", {})),
        "calibration": seed.get("calibration") or None,
        "cancelled": {"refuted_or_cancelled": sum(cancelled.values()) - merged, "merged_repeats": merged},
        "closure": {"closed_by_month_end": closed_by_month_end, "closed_at_end": closed_at_end,
                    "due_to_close": len(live), "rate_at_month_end_pct": _pct(closed_by_month_end, len(live)),
                    "rate_at_end_pct": _pct(closed_at_end, len(live)), "seed_pct": seed.get("closure_pct"),
                    "reported_before_last_day": len(earlier), "closed_of_those_by_month_end": earlier_closed,
                    "rate_before_last_day_pct": _pct(earlier_closed, len(earlier))},
        "on_time": {
            "verify_sent": _ratio(sc.on_time_verify_dispatch_rate(facts)),
            "verified": _ratio(sc.on_time_verify_rate(facts)),
            "filed": _ratio(sc.on_time_filing_rate(facts)),
            "dispatched": _ratio(sc.on_time_dispatch_rate(facts)),
            "disposed": _ratio(sc.on_time_disposal_rate(facts)),
            "check_sent": _ratio(sc.on_time_check_dispatch_rate(facts)),
            "checked": _ratio(sc.on_time_check_rate(facts)),
            "closed": _ratio(sc.on_time_closing_rate(facts)),
        },
        "rework": {"reworked_cases": sum(1 for f in disposed if f.reworks), "disposed_cases": len(disposed),
                   "rate_pct": _pct(sum(1 for f in disposed if f.reworks), len(disposed))},
        "returns": {"returned_cases": sum(1 for f in dispatched if f.returns), "dispatched_cases": len(dispatched),
                    "rate_pct": _pct(sum(1 for f in dispatched if f.returns), len(dispatched))},
        "report_to_close_h": {"closed": len(hours),
                              "median": round(statistics.median(hours), 2) if hours else None,
                              "p90": round(hours[min(len(hours) - 1, int(0.9 * len(hours)))], 2) if hours else None},
        "states_at_end": dict(Counter(r[2] for r in rows)),
        "open_at_end": [{"case_id": r[0], "state": r[2], "reason": open_reasons.get(r[0], "unexplained")}
                        for r in rows if r[2] not in ("closed", "cancelled")],
        "scores": score_tables(conn, facts),
    }
    return report


def score_tables(conn: psycopg.Connection, facts: list[CaseFacts]) -> dict[str, Any]:
    """Region (responsibility grid), department and post tables over the run's cases."""
    grids: dict[str, set[str]] = {}
    for code, grid in conn.execute("SELECT code, responsibility_grid_id FROM grid_cells WHERE "
                                   "responsibility_grid_id IS NOT NULL AND code = ANY(%s)",
                                   (sorted({f.cell for f in facts if f.cell}),)).fetchall():
        grids.setdefault(grid, set()).add(code)
    departments = sorted({f.department for f in facts if f.department})
    actors = {a for f in facts for a in (f.verify_sender, f.check_sender, f.filer, f.closer, f.reporter,
                                         *(d for d, _ in f.dispatchers)) if a}
    role_of: dict[str | None, str] = dict(conn.execute("SELECT username, role FROM users WHERE username = ANY(%s)",
                                (sorted(actors),)).fetchall())
    posts: dict[str, set[str]] = {"operator": set(), "shift_leader": set(), "dispatcher": set()}
    for f in facts:  # a post is scored in its own role (an inspector closing by 自处理 is no shift leader)
        posts["operator"] |= {a for a in (f.verify_sender, f.check_sender) if a and role_of.get(a) == "operator"}
        posts["shift_leader"] |= {a for a in (f.filer, f.closer) if a and role_of.get(a) == "shift_leader"}
        posts["dispatcher"] |= {a for a, _ in f.dispatchers if role_of.get(a) == "dispatcher"}
    inspectors = sorted({f.reporter for f in facts if role_of.get(f.reporter) == "inspector"})
    return {
        "region_grid": _table(sc.evaluate_region(facts, g, cells=cells) for g, cells in sorted(grids.items())),
        "department": _table(sc.evaluate_department(facts, d) for d in departments),
        "post": {role: _table(sc.evaluate_post(facts, role, a, peers=people) for a in sorted(people))
                 for role, people in posts.items() if people}
        | {"inspector": _table(sc.evaluate_post(facts, "inspector", a) for a in inspectors)},
    }


def _changes(changes: list[list[float]], keep: int = 6) -> str:
    """Each speed change as `wall s → speed×`; a long run's list cut to its first and last `keep`."""
    shown = [f"{w:g} s → {v:g}×" for w, v in changes]
    if len(shown) > 2 * keep:
        shown = [*shown[:keep], f"… {len(shown) - 2 * keep} more …", *shown[-keep:]]
    return ", ".join(shown) or "none"


def markdown(report: dict[str, Any], run: Mapping[str, Any]) -> str:
    """The report for people: the seed's figures beside the run's."""
    p, c = report["period"], report["closure"]
    speed = "auto" if run.get("speed") == "auto" else f"{run.get('speed')}×"
    seed_mix = report["seed_source_mix_pct"]
    lines = [f"# County month: {p['start'][:10]} – {p['month_end'][:10]} ({p['days']:g} simulated days)", "",
             f"Run: speed {speed}, wall {run.get('wall_s')} s, platform CPU {run.get('cpu_s')} s "
             f"({run.get('cpu_s_per_simulated_day')} s per simulated day), scenario `{run.get('scenario')}`; "
             f"each person looked at their work list every {run.get('look_interval_sim_min')} simulated minutes.", "",
             "## Cases by source", "", "| source | cases | % | seed % |", "| --- | ---: | ---: | ---: |"]
    if (sp := run.get("speeds")) is not None:  # --speed auto (simulators/people/pace.py)
        lines[4:4] = [f"Speed adjusted while running for a look every {sp.get('target_look_min')} simulated minutes: "
                      f"min {sp['min']}×, median {sp['median']}× (by wall time), max {sp['max']}×; changes (wall s, "
                      f"speed): {_changes(sp['changes'])}.", ""]
    for source, v in report["by_source"].items():
        lines.append(f"| {source} | {v['cases']} | {v['pct']} | {seed_mix.get(source, '—')} |")
    lines += ["", f"{report['cases']} cases reported in the month ({report['cases_after_the_month']} after it); "
              f"cancelled: {report['cancelled']['refuted_or_cancelled']} refuted, "
              f"{report['cancelled']['merged_repeats']} repeats merged.", "",
              "## Closure", "", "| | closed | due to close | % | seed % |", "| --- | ---: | ---: | ---: | ---: |",
              f"| at the month's end | {c['closed_by_month_end']} | {c['due_to_close']} | "
              f"{c['rate_at_month_end_pct']} | {c['seed_pct']} |",
              f"| at the month's end, of the cases reported before its last day | "
              f"{c['closed_of_those_by_month_end']} | {c['reported_before_last_day']} | "
              f"{c['rate_before_last_day_pct']} | |",
              f"| after the drain | {c['closed_at_end']} | {c['due_to_close']} | {c['rate_at_end_pct']} | |", "",
              *(["## How the scenario is calibrated", "", report["calibration"], ""] if report.get("calibration")
                else []),
              "## On time, per step", "", "| step | on time | due | % |", "| --- | ---: | ---: | ---: |"]
    for step, r in report["on_time"].items():
        lines.append(f"| {step} | {r['numerator']} | {r['denominator']} | {r['pct']} |")
    h = report["report_to_close_h"]
    lines += ["", f"Rework: {report['rework']['rate_pct']} % of disposed cases; returns: "
              f"{report['returns']['rate_pct']} % of dispatched cases. Report → close: median {h['median']} h, "
              f"p90 {h['p90']} h over {h['closed']} closed cases.", ""]
    for title, rows in (("Regions (responsibility grids)", report["scores"]["region_grid"]),
                        ("Departments", report["scores"]["department"]),
                        *((f"Posts: {role}", rows) for role, rows in report["scores"]["post"].items())):
        lines += [f"## {title}", "", "| rank | subject | score | grade |", "| ---: | --- | ---: | --- |"]
        lines += [f"| {r['rank']} | {r['subject']} | {r['score']} | {r['grade']} |" for r in rows]
        lines.append("")
    opened = report["open_at_end"]
    lines += ["## Open at the end", "", f"{len(opened)} case(s)." if opened else "None: every case closed or "
              "was cancelled."]
    lines += [f"- {o['case_id']} ({o['state']}): {o['reason']}" for o in opened[:50]]
    return "\n".join(lines) + "\n"
